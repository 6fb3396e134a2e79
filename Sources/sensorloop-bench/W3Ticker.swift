// W3 timer: one periodic task at 1 kHz on a fixed grid (start + k·period) for 5 s. Lateness is
// the time from a grid deadline to the task seeing it; CPU time / wall time and allocations per
// tick are measured over the run. sensorloop uses LoopCore's `Ticker` (policy `.skip`, like the
// C loop, which also drops expirations it was too late for and counts them as missed).

import AllocCounter
import CBaseline
import LoopCore
import LoopLinux

/// Where the ticking task records its lateness, and when to stop.
struct TickerWorld {
  let samples: UnsafeMutablePointer<Int64>
  /// Grid deadlines to run through.
  let deadlines: Int64
  /// The tick after which the steady state begins (allocations are counted from there).
  let warm: Int
  var ticks = 0
  var missed: UInt64 = 0
  var allocsAtWarm: UInt64 = 0
  var allocsAtEnd: UInt64 = 0
}

/// A task that ticks on a fixed grid and records each tick's lateness.
struct TickerTask: TaskBody {
  typealias World = TickerWorld
  var ticker: Ticker

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout TickerWorld)
    -> Poll<Void>
  {
    while case .ready(let tick) = try! ticker.poll(&cx) {
      world.samples[world.ticks] = tick.lateness.nanoseconds
      world.ticks += 1
      if world.ticks == 1 || world.ticks == world.warm { world.allocsAtWarm = sl_alloc_count_thread() }
      if Int64(ticker.delivered + ticker.missed) >= world.deadlines {
        world.allocsAtEnd = sl_alloc_count_thread()
        world.missed = ticker.missed
        cx.stopExecutor()
        return .ready(())
      }
    }
    return .pending
  }
}

/// What one W3 segment measured.
struct TickerSegment {
  var samples: [Int64] = []
  var missed: Int64 = 0
  var cpu: Int64 = 0
  var wall: Int64 = 0
  var allocs: Int64 = 0
  /// Ticks the allocation count covers.
  var allocTicks: Int64 = 0

  /// Adds `other`'s figures to these.
  mutating func pool(_ other: TickerSegment) {
    samples += other.samples
    missed += other.missed
    cpu += other.cpu
    wall += other.wall
    allocs += other.allocs
    allocTicks += other.allocTicks
  }
}

/// One W3 segment for C: one absolute periodic timerfd in a bare epoll loop.
func w3SegmentC(deadlines: Int64, period: Int64) -> TickerSegment {
  var samples = [Int64](repeating: 0, count: Int(deadlines))
  var result = cb_ticker_result()
  let before = sl_alloc_count_thread()
  let status = samples.withUnsafeMutableBufferPointer {
    let samples = $0.baseAddress
    return countedRegion { cb_w3_ticker(period, deadlines, samples, &result) }
  }
  let allocs = sl_alloc_count_thread() - before
  precondition(status == 0, "cb_w3_ticker failed")
  samples.removeLast(samples.count - Int(result.ticks))
  return TickerSegment(
    samples: samples, missed: result.missed, cpu: result.cpu_ns, wall: result.wall_ns,
    allocs: Int64(allocs), allocTicks: result.ticks)
}

/// One W3 segment for sensorloop: a `Ticker` task on the epoll platform.
func w3SegmentSensorloop(deadlines: Int64, period: Int64) -> TickerSegment {
  var samples = [Int64](repeating: 0, count: Int(deadlines))
  let platform = try! EpollPlatform()
  var executor = Executor<1, 1, TickerTask, EpollPlatform>(platform: platform)
  let start = Instant(nanoseconds: cb_now_ns())
  try! executor.spawn(
    TickerTask(ticker: Ticker(period: .nanoseconds(period), first: start + .nanoseconds(period))))
  let cpuStart = cb_process_cpu_ns()
  var (segment, ticks) = samples.withUnsafeMutableBufferPointer { buffer in
    var world = TickerWorld(
      samples: buffer.baseAddress!, deadlines: deadlines, warm: min(100, Int(deadlines / 10)))
    _ = countedRegion { executor.run(&world) }
    // Counted from the warm-up tick, or from the first when a loaded host never reached it.
    let from = world.ticks > world.warm ? world.warm : 1
    let segment = TickerSegment(
      missed: Int64(world.missed), allocs: Int64(world.allocsAtEnd &- world.allocsAtWarm),
      allocTicks: Int64(world.ticks - from))
    return (segment, world.ticks)
  }
  segment.cpu = cb_process_cpu_ns() - cpuStart
  segment.wall = cb_now_ns() - start.nanoseconds
  samples.removeLast(samples.count - ticks)
  segment.samples = samples
  return segment
}

/// The W3 lines for C and sensorloop: `deadlines` grid points `period` ns apart, run as
/// `segments` interleaved segments in ABBA order so both sides see the same drift in host load.
func runW3(deadlines: Int64, period: Int64, segments: Int) -> [ResultLine] {
  var c = TickerSegment()
  var ours = TickerSegment()
  let each = deadlines / Int64(segments)
  for k in 0..<segments {
    for cFirst in (k % 2 == 0 ? [true, false] : [false, true]) {
      if cFirst {
        c.pool(w3SegmentC(deadlines: each, period: period))
      } else {
        ours.pool(w3SegmentSensorloop(deadlines: each, period: period))
      }
    }
  }
  return [tickerLine("c", c), tickerLine("sensorloop", ours)]
}

/// A W3 result line.
func tickerLine(_ impl: String, _ segment: TickerSegment) -> ResultLine {
  var samples = segment.samples
  let ticks = Int64(samples.count)
  let p = Percentiles(&samples)
  var line = ResultLine(workload: "w3", impl: impl)
  line.add("p50_us", p.p50)
  line.add("p99_us", p.p99)
  line.add("max_us", p.max)
  line.add("ticks", count: ticks)
  line.add("missed", count: segment.missed)
  line.add("cpu", Double(segment.cpu) / Double(segment.wall), decimals: 4)
  line.add("allocs", count: segment.allocs)
  line.add(
    "allocs_per_tick", segment.allocTicks > 0 ? Double(segment.allocs) / Double(segment.allocTicks) : 0,
    decimals: 3)
  return line
}
