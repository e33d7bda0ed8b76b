#include "ops/op_schema.h"

namespace tensorpod::internal {

void RegisterReductionSchemas(SchemaRegistry* r) {}

}  // namespace tensorpod::internal
