// placeholder
#include "apps/commands.h"
#include "engine/core/error.h"
namespace sprout::app {
int run_report(const ReportArgs&) { SPROUT_FAIL("report: not yet"); }
}  // namespace sprout::app
