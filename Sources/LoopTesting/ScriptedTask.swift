// A task for executor tests whose behaviour is a script: a list of steps (sleep, wait for an
// interrupt, wake another task, yield, ...) run in order, each recorded in the world's trace.
// A task finishes when its script is done. The semantics of each step are spelled out on
// `Step`, because the model-based test re-implements them independently.

import LoopCore

/// One step of a `ScriptedTask`. Steps run in order within a poll until one has to wait.
package enum Step: Equatable {
  /// Sleeps until `d` after the time the step began (`cx.sleep`, re-armed on every poll).
  /// Records `slept` when done, or `timerQueueFull` (and waits for any wake to retry).
  case sleep(Duration)
  /// Sleeps until the earlier of `first` and `second` after the step began, asking for both
  /// deadlines on every poll, in that order (as `select` over two sleeps does). Records `slept`
  /// when the earlier has passed, or `timerQueueFull` (and waits for any wake to retry).
  case sleepEither(Duration, Duration)
  /// Requests a wake at `now + d` for each `d`, in order, in one poll (`cx.wake(at:)`), then
  /// waits: the next poll, whatever caused it, ends the step. Records `timerQueueFull` per
  /// refused request.
  case wakeAt([Duration])
  /// Waits for interrupt `line` (`cx.wait(for:)`, re-registered on every poll). Records `took`.
  case wait(Interrupt)
  /// Calls `cx.take(line)` once (recording `took` if it was pending; either way the task is
  /// left the line's handler), then waits: the next poll, whatever caused it, ends the step.
  case listen(Interrupt)
  /// Wakes itself `times` times (`cx.yieldNow`), one poll each; the next poll ends the step.
  case yield(times: Int)
  /// Waits for any wake without registering anything.
  case idle
  /// Wakes the task named `name` through `world.wakers` (`cx.wake`). Records `woke`.
  case wake(String)
  /// Raises `line` in software (`cx.raise`). Records `raised`.
  case raise(Interrupt)
  /// Asks the executor to stop (`cx.stopExecutor`). Records `stop`.
  case stop
}

/// A test task that runs a script of `Step`s and records what it does in a `TraceWorld`.
package struct ScriptedTask: TaskBody {
  /// Scripted tasks share a trace.
  package typealias World = TraceWorld

  /// The name the trace shows.
  package let name: String
  /// The script.
  package let steps: [Step]
  /// The step being run (`steps.count` once done).
  package private(set) var pc = 0
  /// Whether the current step has begun (it spans polls).
  private var begun = false
  /// The current `sleep` step's deadline (`sleepEither`: the first one).
  private var deadline = Instant.zero
  /// The current `sleepEither` step's second deadline.
  private var secondDeadline = Instant.zero
  /// Self-wakes left in the current `yield` step.
  private var yieldsLeft = 0

  /// A task called `name` running `steps`.
  package init(_ name: String, _ steps: [Step]) {
    self.name = name
    self.steps = steps
  }

  /// Runs steps until one has to wait (`.pending`) or the script is done (`.ready`).
  package mutating func poll<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ world: inout TraceWorld
  ) -> Poll<Void> {
    let now = cx.now
    world.record(now, name, .poll)
    while pc < steps.count {
      switch steps[pc] {
      case .sleep(let d):
        if !begun {
          begun = true
          deadline = now + d
        }
        do {
          guard case .ready = try cx.sleep(until: deadline) else { return .pending }
          world.record(now, name, .slept)
        } catch {
          world.record(now, name, .timerQueueFull)
          return .pending
        }
      case .sleepEither(let first, let second):
        if !begun {
          begun = true
          deadline = now + first
          secondDeadline = now + second
        }
        if now < deadline && now < secondDeadline {
          do throws(CapacityError) {
            try cx.wake(at: deadline)
            try cx.wake(at: secondDeadline)
          } catch {
            world.record(now, name, .timerQueueFull)
          }
          return .pending
        }
        world.record(now, name, .slept)
      case .wakeAt(let ds):
        if !begun {
          begun = true
          // An index loop: `for d in ds` allocated once per element here in debug builds
          // (seen by the allocation test); this one does not.
          var i = 0
          while i < ds.count {
            do throws(CapacityError) { try cx.wake(at: now + ds[i]) } catch {
              world.record(now, name, .timerQueueFull)
            }
            i += 1
          }
          return .pending
        }
      case .wait(let line):
        guard case .ready = cx.wait(for: line) else { return .pending }
        world.record(now, name, .took(line.number))
      case .listen(let line):
        if !begun {
          begun = true
          if cx.take(line) { world.record(now, name, .took(line.number)) }
          return .pending
        }
      case .yield(let times):
        if !begun {
          begun = true
          yieldsLeft = times
        }
        if yieldsLeft > 0 {
          yieldsLeft -= 1
          cx.yieldNow()
          return .pending
        }
      case .idle:
        if !begun {
          begun = true
          return .pending
        }
      case .wake(let other):
        cx.wake(world.wakers[other]!)
        world.record(now, name, .woke(other))
      case .raise(let line):
        cx.raise(line)
        world.record(now, name, .raised(line.number))
      case .stop:
        cx.stopExecutor()
        world.record(now, name, .stop)
      }
      pc += 1
      begun = false
    }
    world.record(now, name, .done)
    return .ready(())
  }
}
