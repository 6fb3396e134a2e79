// W2 eventfd latency: a second OS thread (the C harness's writer, the same for both sides)
// stores a CLOCK_MONOTONIC stamp and then writes an eventfd every 500 µs; the waiting task
// records now − stamp when it runs. For sensorloop the eventfd is a platform trigger, so the
// path measured is epoll_wait → eventfd read → interrupt line → task poll.

import AllocCounter
import CBaseline
import LoopCore
import LoopLinux

/// The writer, where the samples go, and the allocation counts around the steady state.
struct LatencyWorld {
  let writer: OpaquePointer
  let line: Interrupt
  let writes: Int64
  let samples: UnsafeMutablePointer<Int64>
  let capacity: Int
  var count = 0
  var allocsAtWarm: UInt64 = 0
  var allocsAtEnd: UInt64 = 0
}

/// Waits for the trigger's line and records the latency of each wake.
struct LatencyTask: TaskBody {
  typealias World = LatencyWorld

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout LatencyWorld)
    -> Poll<Void>
  {
    while cx.take(world.line) {
      let now = cx.now.nanoseconds
      if world.count < world.capacity {
        world.samples[world.count] = now - cb_writer_stamp(world.writer)
        world.count += 1
      }
      if world.count == 1 || world.count == 100 { world.allocsAtWarm = sl_alloc_count_thread() }
      // The writer counts a write before making it, so this is exact once the last one woke us.
      if cb_writer_writes(world.writer) >= world.writes {
        world.allocsAtEnd = sl_alloc_count_thread()
        cx.stopExecutor()
        return .ready(())
      }
    }
    return .pending
  }
}

/// The samples and steady-state allocations of one W2 segment.
struct LatencySegment {
  var samples: [Int64]
  var allocs: Int64
}

/// One W2 segment for C: the same eventfd in a bare epoll loop.
func w2SegmentC(writes: Int64, period: Int64) -> LatencySegment {
  var samples = [Int64](repeating: 0, count: Int(writes))
  let fd = cb_eventfd()
  precondition(fd >= 0, "cb_eventfd failed")
  let writer = cb_writer_start(fd, period, writes)!
  let before = sl_alloc_count_thread()
  let n = samples.withUnsafeMutableBufferPointer {
    cb_w2_wait(fd, writer, writes, $0.baseAddress, Int64($0.count))
  }
  let allocs = sl_alloc_count_thread() - before
  cb_writer_join(writer)
  cb_close(fd)
  precondition(n > 0, "cb_w2_wait failed")
  samples.removeLast(samples.count - Int(n))
  return LatencySegment(samples: samples, allocs: Int64(allocs))
}

/// One W2 segment for sensorloop: a trigger of the epoll platform, one task waiting on its line.
func w2SegmentSensorloop(writes: Int64, period: Int64) -> LatencySegment {
  var samples = [Int64](repeating: 0, count: Int(writes))
  var platform = try! EpollPlatform()
  let trigger = try! platform.makeTrigger(for: Interrupt(0))
  var executor = Executor<1, 1, LatencyTask, EpollPlatform>(platform: platform)
  try! executor.spawn(LatencyTask())
  let writer = cb_writer_start(trigger.rawValue, period, writes)!
  let (n, allocs) = samples.withUnsafeMutableBufferPointer { buffer in
    var world = LatencyWorld(
      writer: writer, line: trigger.line, writes: writes, samples: buffer.baseAddress!,
      capacity: buffer.count)
    _ = executor.run(&world)
    return (world.count, world.allocsAtEnd &- world.allocsAtWarm)
  }
  cb_writer_join(writer)
  samples.removeLast(samples.count - n)
  return LatencySegment(samples: samples, allocs: Int64(allocs))
}

/// The W2 lines for C and sensorloop, `writes` writes `period` apart each, run as `segments`
/// interleaved segments in ABBA order (C, sensorloop, sensorloop, C, ...) so that both sides
/// see the same drift in host load; samples are pooled.
func runW2(writes: Int64, period: Int64, segments: Int) -> [ResultLine] {
  var c = LatencySegment(samples: [], allocs: 0)
  var ours = LatencySegment(samples: [], allocs: 0)
  let each = writes / Int64(segments)
  for k in 0..<segments {
    for cFirst in (k % 2 == 0 ? [true, false] : [false, true]) {
      if cFirst {
        let seg = w2SegmentC(writes: each, period: period)
        c.samples += seg.samples
        c.allocs += seg.allocs
      } else {
        let seg = w2SegmentSensorloop(writes: each, period: period)
        ours.samples += seg.samples
        ours.allocs += seg.allocs
      }
    }
  }
  return [
    latencyLine("w2", "c", &c.samples, allocs: c.allocs),
    latencyLine("w2", "sensorloop", &ours.samples, allocs: ours.allocs),
  ]
}

/// A latency result line: percentiles in µs, the sample count and the allocations.
func latencyLine(_ workload: String, _ impl: String, _ samples: inout [Int64], allocs: Int64)
  -> ResultLine
{
  let p = Percentiles(&samples)
  var line = ResultLine(workload: workload, impl: impl)
  line.add("p50_us", p.p50)
  line.add("p99_us", p.p99)
  line.add("p999_us", p.p999)
  line.add("max_us", p.max)
  line.add("samples", count: Int64(samples.count))
  line.add("allocs", count: allocs)
  return line
}
