// DeviceBackend: what the runtime needs from an accelerator backend beyond
// the Backend interface, without seeing the accelerator's headers: streams
// (one per execution context), stream-ordered copies, a per-session memory
// pool, pinned host memory for staging, and graph capture/replay.
//
// Ordering model: every device kernel and copy of one Run is enqueued on the
// context's stream, in plan order; the host waits only where it reads device
// results (DeviceStream::Synchronize). Events order work across streams.
//
// Example (what Session::Run does for a device plan):
//   TP_ASSIGN_OR_RETURN(auto stream, backend->CreateStream());
//   TP_RETURN_IF_ERROR(stream->CopyHostToDevice(d_x, staged_x, bytes));
//   ctx.stream = stream.get();  kernel->Compute(ctx);  ...
//   TP_RETURN_IF_ERROR(stream->CopyDeviceToHost(staged_y, d_y, bytes));
//   TP_RETURN_IF_ERROR(stream->Synchronize());
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace tensorpod::internal {

class DeviceGraph;
class DeviceEvent;

// An in-order queue of device work. Not thread-safe: one execution context
// (one Run at a time) owns it.
class DeviceStream {
 public:
  virtual ~DeviceStream() = default;
  // The native handle (a cudaStream_t for CUDA).
  virtual void* native() const = 0;
  // Makes the stream's device current on the calling thread; called before
  // a run enqueues work (a session may run on any thread).
  virtual Status Activate() = 0;
  // Asynchronous copies, ordered on this stream. Host memory that is not
  // pinned is copied synchronously by the driver.
  virtual Status CopyHostToDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual Status CopyDeviceToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual Status CopyDeviceToDevice(void* dst, const void* src, size_t bytes) = 0;
  // Waits until everything enqueued so far has finished; reports the first
  // asynchronous error of the stream's work.
  virtual Status Synchronize() = 0;
  // Cross-stream ordering: `event` completes when work enqueued so far here
  // has; WaitEvent makes later work here wait for `event`.
  virtual Status RecordEvent(DeviceEvent* event) = 0;
  virtual Status WaitEvent(DeviceEvent* event) = 0;
  // Graph capture: work enqueued between BeginCapture and EndCapture is
  // recorded, not run. EndCapture returns the instantiated graph; on any
  // failure the stream is left usable for plain launches.
  virtual Status BeginCapture() = 0;
  virtual StatusOr<std::unique_ptr<DeviceGraph>> EndCapture() = 0;
  virtual bool capturing() const = 0;
};

class DeviceEvent {
 public:
  virtual ~DeviceEvent() = default;
  virtual void* native() const = 0;
};

// A captured, instantiated sequence of device work, replayable on a stream.
class DeviceGraph {
 public:
  virtual ~DeviceGraph() = default;
  virtual Status Launch(DeviceStream* stream) = 0;
};

struct DeviceMemoryInfo {
  size_t free_bytes = 0;
  size_t total_bytes = 0;
};

class DeviceBackend : public Backend {
 public:
  // The device's marketing name, e.g. "NVIDIA H200".
  virtual std::string device_name() const = 0;
  virtual StatusOr<std::unique_ptr<DeviceStream>> CreateStream() const = 0;
  virtual StatusOr<std::unique_ptr<DeviceEvent>> CreateEvent() const = 0;
  // A stream-ordered caching pool for one session's weights, activations and
  // scratch. Allocation failures return nullptr (RESOURCE_EXHAUSTED upstream).
  // Destroying the allocator, after every buffer from it is freed, returns
  // its memory to the driver.
  virtual StatusOr<std::unique_ptr<Allocator>> CreateSessionAllocator() const = 0;
  // Page-locked host memory for staging copies. Process-wide; thread-safe.
  virtual Allocator* pinned_allocator() const = 0;
  virtual StatusOr<DeviceMemoryInfo> MemoryInfo() const = 0;
};

}  // namespace tensorpod::internal
