// ProducerConsumer: a producer sends a reading every 100 ms over a 4-element `Channel`; a
// consumer takes them, and says so when nothing came for 250 ms (embassy: a `Ticker`, an
// `embassy_sync::channel::Channel` and `select(receiver.receive(), Timer::after(...))`).

import LoopCore
import LoopLinux

/// What the tasks share: the channel lives here, never in a task (embassy: a `static` channel).
struct Shared: ~Copyable {
  var readings = Channel<4, Int>()
  var received = 0
  var timeouts = 0
}

/// The application's tasks (embassy: one `#[task]` fn each).
enum App: TaskBody {
  /// Sends 1, 2, 3, ... on a 100 ms ticker; pauses after every 5th for 400 ms; stops after 15.
  case producer(ticker: Ticker, next: Int)
  /// Receives, giving up after 250 ms without a reading (`deadline`: nil until first polled).
  case consumer(deadline: Instant?)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ shared: inout Shared) -> Poll<Void> {
    switch self {
    case .producer(var ticker, var next):
      defer { self = .producer(ticker: ticker, next: next) }  // State kept in the slot.
      while case .ready = try! ticker.poll(&cx) {  // Ticker::every(100 ms).next().await
        // try!: 4 places and one reading per 100 ms: never full here (trySend throws if so).
        try! shared.readings.trySend(next, &cx)
        if next == 15 { return .ready(()) }
        if next % 5 == 0 { ticker = Ticker(period: ticker.period, first: cx.now + .milliseconds(400)) }
        next += 1
      }
      return .pending
    case .consumer(var deadline):
      defer { self = .consumer(deadline: deadline) }
      while true {
        let limit = deadline ?? cx.now + .milliseconds(250)
        deadline = limit
        // select(receive, timer): the first ready wins; both arm their wakers meanwhile.
        // (`Timeout(after:).poll(&cx) { ... }` says the same in one call.)
        let next = select(&cx, { cx in shared.readings.receive(&cx) }, { cx in try! cx.sleep(until: limit) })
        switch next {
        case .pending:
          return .pending
        case .ready(.first(let reading)):
          shared.received += 1
          var line = ConsoleLine("received ")
          line.append(decimal: reading)
          Console.write(line)
          if reading == 15 {
            cx.stopExecutor()
            return .ready(())
          }
        case .ready(.second):
          shared.timeouts += 1
          Console.write("nothing for 250 ms")
        }
        deadline = nil  // Restart the 250 ms.
      }
    }
  }
}

func main() {
  var platform = try! EpollPlatform()
  let first = platform.now() + .milliseconds(100)
  var shared = Shared()
  var executor = Executor<2, 2, App, EpollPlatform>(platform: platform)  // 2 slots, 2 timers.
  try! executor.spawn(.consumer(deadline: nil))
  try! executor.spawn(.producer(ticker: Ticker(period: .milliseconds(100), first: first), next: 1))
  _ = executor.run(&shared)
}
