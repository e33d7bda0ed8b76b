#include "ops/op_schema.h"

namespace tensorpod::internal {

void RegisterNnSchemas(SchemaRegistry* r) {}

}  // namespace tensorpod::internal
