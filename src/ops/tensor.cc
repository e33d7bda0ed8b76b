#include "ops/op_schema.h"

namespace tensorpod::internal {

void RegisterTensorSchemas(SchemaRegistry* r) {}

}  // namespace tensorpod::internal
