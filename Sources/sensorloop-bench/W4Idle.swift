// W4 idle footprint: 16 periodic tasks at 1 Hz (phases spread over the second) for 3 s, run in
// a child process so its peak RSS and CPU time are its own. This file is also compiled, with a
// two-line main, into the Embedded Swift build of the workload (footprint.sh), so it uses only
// what Embedded Swift allows: LoopCore, LoopLinux and the allocation counter.

import AllocCounter
import LoopCore
import LoopLinux

/// Tasks in the idle workload.
let idleTasks = 16

/// What the idle tasks share: the expirations seen.
struct IdleWorld {
  var expirations = 0
}

/// One periodic idle task, or the task that ends the run.
enum IdleTask: TaskBody {
  typealias World = IdleWorld
  case periodic(Ticker)
  case stopper(Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout IdleWorld)
    -> Poll<Void>
  {
    switch self {
    case .periodic(var ticker):
      while case .ready = try! ticker.poll(&cx) { world.expirations += 1 }
      self = .periodic(ticker)
      return .pending
    case .stopper(let end):
      guard case .ready = try! cx.sleep(until: end) else { return .pending }
      cx.stopExecutor()
      return .ready(())
    }
  }
}

/// Runs the idle workload (`idleTasks` tasks every `period` for `duration`) and returns the
/// expirations seen and the process's allocations once the loop runs.
func runIdle(period: Duration, duration: Duration) -> (expirations: Int, allocs: UInt64) {
  let platform = try! EpollPlatform()
  var executor = Executor<17, 17, IdleTask, EpollPlatform>(platform: platform)
  let start = monotonicNow()
  for i in 0..<idleTasks {
    let first = start + .nanoseconds(period.nanoseconds * Int64(i + 1) / Int64(idleTasks))
    try! executor.spawn(.periodic(Ticker(period: period, first: first)))
  }
  try! executor.spawn(.stopper(start + duration))
  var world = IdleWorld()
  let before = sl_alloc_count_process()
  _ = executor.run(&world)
  return (world.expirations, sl_alloc_count_process() &- before)
}

/// The process's peak resident set in KiB (`VmHWM` in /proc/self/status), or -1.
///
/// The parent cannot use `ru_maxrss` from wait4: exec records the replaced image's peak (the
/// parent's own, after posix_spawn's vfork) into it. `VmHWM` belongs to the new image alone.
func peakResidentKiB() -> Int {
  guard let fd = try? FileDescriptor.open("/proc/self/status") else { return -1 }
  var text = [UInt8](repeating: 0, count: 8192)
  var used = 0
  while used < text.count {
    let n = text.withUnsafeMutableBytes { raw in
      // SAFETY: the range starts at `used` and stays inside `text`'s storage.
      (try? fd.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[used...]))) ?? 0
    }
    if n <= 0 { break }
    used += n
  }
  let key: [UInt8] = Array("VmHWM:".utf8)
  var i = 0
  while i + key.count <= used {
    var match = true
    for k in 0..<key.count where text[i + k] != key[k] { match = false }
    if match {
      var j = i + key.count
      var value = 0
      while j < used && text[j] == 32 || j < used && text[j] == 9 { j += 1 }
      while j < used && text[j] >= 48 && text[j] <= 57 {
        value = value * 10 + Int(text[j] - 48)
        j += 1
      }
      return value
    }
    i += 1
  }
  return -1
}

/// The child side of W4: runs the idle workload and prints what it saw on one line.
func idleChildMain() {
  let result = runIdle(period: .seconds(1), duration: .seconds(3))
  print("expirations=\(result.expirations) allocs=\(result.allocs) rss_kib=\(peakResidentKiB())")
}
