// ThreadWork: slow work on another thread, finished through an interrupt (embassy: a DMA
// transfer or an ADC conversion whose completion interrupt wakes the task waiting on it).
// The worker thread blocks (here: sleeps 300 ms per "measurement"), stores its result, and
// raises an eventfd; the loop thread never blocks but in epoll_wait.

import CExamples
import LoopCore
import LoopLinux
import Synchronization

/// The interrupt line the worker raises when a result is ready.
let resultReady = Interrupt(0)

/// The worker's latest result and how many it made: atomics, written by the worker thread
/// and read by the task (embassy: the DMA buffer the completion interrupt hands over).
let latestResult = Atomic<Int>(0)
let resultsMade = Atomic<Int>(0)

/// What the task shares with nobody: nothing (`Void` would do; a struct can grow).
struct Nothing {}

/// Waits for each result the worker announces, prints it, and stops after `wanted` of them.
struct Collector: TaskBody {
  var wanted = 5
  var seen = 0

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout Nothing) -> Poll<Void> {
    // `wait(for:)` is `.ready` once per raise (raises before the poll coalesce into one) and
    // otherwise makes this task the line's one handler: the next raise wakes it.
    while case .ready = cx.wait(for: resultReady) {
      seen = resultsMade.load(ordering: .acquiring)
      var line = ConsoleLine("result ")
      line.append(decimal: seen)
      line.append(": ")
      line.append(decimal: latestResult.load(ordering: .relaxed))
      Console.write(line)
      if seen >= wanted {
        cx.stopExecutor()
        return .ready(())
      }
    }
    return .pending
  }
}

/// The trigger the worker raises, set before the thread starts (which orders it before the
/// thread's reads).
nonisolated(unsafe) var trigger: InterruptTrigger?

/// The worker thread: blocks as long as it likes, then publishes a result and raises the line.
func work(_: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  var n = 0
  while true {
    ce_sleep_ms(300)  // A slow read: a 1-Wire sensor takes 750 ms, a DNS lookup seconds.
    n += 1
    latestResult.store(n * n, ordering: .relaxed)
    resultsMade.store(n, ordering: .releasing)  // Publishes the result stored above.
    trigger!.raise()  // One write(2) to the eventfd: epoll wakes the loop.
  }
}

func main() {
  var platform = try! EpollPlatform()
  trigger = try! platform.makeTrigger(for: resultReady)  // An eventfd, watched by epoll.
  var executor = Executor<1, 1, Collector, EpollPlatform>(platform: platform)
  try! executor.spawn(Collector())
  precondition(ce_thread_start_detached(work, nil) == 0, "ThreadWork: no thread")
  var nothing = Nothing()
  _ = executor.run(&nothing)  // The process exits with the worker still asleep: fine.
}
