// The watchdog task: watches periodic tasks for stalls and kicks a watchdog device while none
// is stalled.

import LoopCore
import LoopLinux

/// Watches periodic tasks for stalls and, with a device, kicks it while none is stalled.
///
/// A watched task is stalled when it is late for its own next deadline (`FirmwareWorld.due`) by
/// more than the stall time: a sampler that reads every 20 s is not stalled after 5 s of
/// rightful quiet. While a task is stalled the device is not kicked (so the board resets) and
/// `SystemdKeepalive` sends no `WATCHDOG=1` (so systemd restarts the service); without a
/// device the task only supervises: stall and resumed records, and the systemd gate.
public struct Watchdog: Sendable {
  /// The task index.
  public let index: Int
  /// The device fd (owned by the program), -1 for none.
  let device: Int32
  let stall: Duration
  let watched: UInt64
  var ticker: Ticker
  /// The task seen stalled, while one is (-1 when none).
  public private(set) var stalledTask = -1
  /// Kicks written.
  public private(set) var kicks: UInt64 = 0
  /// Ticks that came later than the stall time: the whole loop had stalled.
  public private(set) var loopStalls: UInt64 = 0

  /// A watchdog checking the tasks in the `watched` bit mask every `kick` and writing to
  /// `device` (-1: none) while none is stalled.
  public init(index: Int, device: Int32, kick: Duration, stall: Duration, watched: UInt64, start: Instant) {
    self.index = index
    self.device = device
    self.stall = stall
    self.watched = watched
    ticker = Ticker(period: kick, first: start, policy: .skip)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, due: ticker.next)
      let now = cx.now
      if tick.lateness > stall {
        // The loop itself did not run for longer than the stall time (a task that did not
        // yield, a stopped process): no kick could be written meanwhile. Every watched task's
        // progress is stale for that reason alone, so none is blamed: this tick reports the
        // loop and kicks (it runs again), and the tasks are judged from the next tick, once
        // they have had their turn. A task that never yields stops every kick for good.
        var record = world.record(index, at: now)
        record.field("event", "loop_stall")
        record.field("late_ms", integer: tick.lateness.nanoseconds / 1_000_000)
        record.finish()
        world.emit(record, task: index, &cx)
        loopStalls += 1
        if stalledTask < 0 { kick(&world) }
        continue
      }
      let stalled = firstStalled(world, now: now)
      if stalled != stalledTask {
        var record = world.record(index, at: now)
        if stalled >= 0 {
          record.field("event", "stall")
          record.field("stalled", world.names[stalled])
        } else {
          record.field("event", "resumed")
        }
        record.finish()
        world.emit(record, task: index, &cx)
        stalledTask = stalled
        world.stalledTask = stalled
      }
      if stalled < 0 { kick(&world) }
    }
    return .pending
  }

  /// Writes a kick to the device, if there is one.
  @inline(never)
  private mutating func kick(_ world: inout FirmwareWorld) {
    guard device >= 0 else { return }
    if Watchdog.write(device, "k") { kicks += 1 } else { world.counters[index].errors += 1 }
  }

  /// The lowest watched task later than its own next deadline by more than the stall time, or -1.
  func firstStalled(_ world: borrowing FirmwareWorld, now: Instant) -> Int {
    for i in 0..<FirmwareLimits.tasks where watched & (1 << UInt64(i)) != 0 {
      if now > world.due[i] + stall { return i }
    }
    return -1
  }

  /// Writes the one-byte `command` (`k` kicks, `V` disarms on close); false on failure.
  @inline(never)
  public static func write(_ fd: Int32, _ command: StaticString) -> Bool {
    (try? BorrowedFileDescriptor(fd).write(command)) == 1
  }
}
