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

/// The W3 lines for C and sensorloop: `deadlines` grid points `period` ns apart.
func runW3(deadlines: Int64, period: Int64) -> [ResultLine] {
  var samples = [Int64](repeating: 0, count: Int(deadlines))
  var lines: [ResultLine] = []

  do {
    var result = cb_ticker_result()
    let before = sl_alloc_count_thread()
    let status = samples.withUnsafeMutableBufferPointer {
      cb_w3_ticker(period, deadlines, $0.baseAddress, &result)
    }
    let allocs = sl_alloc_count_thread() - before
    precondition(status == 0, "cb_w3_ticker failed")
    var taken = Array(samples[0..<Int(result.ticks)])
    lines.append(
      tickerLine(
        "c", &taken, missed: result.missed, cpu: result.cpu_ns, wall: result.wall_ns,
        allocs: Int64(allocs), allocTicks: result.ticks))
  }

  do {
    let platform = try! EpollPlatform()
    var executor = Executor<1, 1, TickerTask, EpollPlatform>(platform: platform)
    let start = Instant(nanoseconds: cb_now_ns())
    try! executor.spawn(
      TickerTask(ticker: Ticker(period: .nanoseconds(period), first: start + .nanoseconds(period))))
    let cpuStart = cb_process_cpu_ns()
    let measured = samples.withUnsafeMutableBufferPointer { buffer in
      var world = TickerWorld(
        samples: buffer.baseAddress!, deadlines: deadlines, warm: min(100, Int(deadlines / 10)))
      _ = executor.run(&world)
      // Counted from the warm-up tick, or from the first when a loaded host never reached it.
      let from = world.ticks > world.warm ? world.warm : 1
      return (world.ticks, world.missed, world.allocsAtEnd &- world.allocsAtWarm, world.ticks - from)
    }
    let cpu = cb_process_cpu_ns() - cpuStart
    let wall = cb_now_ns() - start.nanoseconds
    var taken = Array(samples[0..<measured.0])
    lines.append(
      tickerLine(
        "sensorloop", &taken, missed: Int64(measured.1), cpu: cpu, wall: wall,
        allocs: Int64(measured.2), allocTicks: Int64(measured.3)))
  }
  return lines
}

/// A W3 result line.
func tickerLine(
  _ impl: String, _ samples: inout [Int64], missed: Int64, cpu: Int64, wall: Int64, allocs: Int64,
  allocTicks: Int64
) -> ResultLine {
  let ticks = Int64(samples.count)
  let p = Percentiles(&samples)
  var line = ResultLine(workload: "w3", impl: impl)
  line.add("p50_us", p.p50)
  line.add("p99_us", p.p99)
  line.add("max_us", p.max)
  line.add("ticks", count: ticks)
  line.add("missed", count: missed)
  line.add("cpu", Double(cpu) / Double(wall), decimals: 4)
  line.add("allocs", count: allocs)
  line.add("allocs_per_tick", allocTicks > 0 ? Double(allocs) / Double(allocTicks) : 0, decimals: 3)
  return line
}
