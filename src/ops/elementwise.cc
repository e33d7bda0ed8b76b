#include "ops/op_schema.h"

namespace tensorpod::internal {

void RegisterElementwiseSchemas(SchemaRegistry* r) {}

}  // namespace tensorpod::internal
