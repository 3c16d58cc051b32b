#include "state_io.h"

#include "log.h"
#include "weighbridge/store/sensor_state.h"

namespace weighbridge::app {

std::string EncodeSensorState(const analytics::Sessionizer& sessionizer,
                              const analytics::DetectorEngine& engine) {
  store::SensorState st;
  st.open_transfers = sessionizer.ExportOpen();
  st.detector = engine.ExportState();
  return store::EncodeSensorState(st);
}

// Before the first packet: the open transfers and detector state the last run saved.
Status RestoreSensorState(const store::History& history, analytics::Sessionizer* sessionizer,
                          analytics::DetectorEngine* engine) {
  auto blob = history.GetState(store::kSensorStateName);
  if (!blob.ok()) return blob.status();
  if (!*blob) return Status::Ok();  // first start
  std::optional<store::SensorState> st = store::DecodeSensorState(**blob);
  if (!st) return Status::Error("the saved sensor state is not readable by this build");
  const std::size_t open = st->open_transfers.size();
  const std::size_t tracked = st->detector.transfers.size();
  sessionizer->ImportOpen(std::move(st->open_transfers));
  engine->ImportState(std::move(st->detector));
  Log(LogLevel::kInfo, "state", "restored from the last run",
      {{"open_transfers", std::to_string(open)}, {"tracked_transfers", std::to_string(tracked)}});
  return Status::Ok();
}

}  // namespace weighbridge::app
