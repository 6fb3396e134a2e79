// The program's systemd side: the `WATCHDOG=1` keepalive task and the world's notifications
// (`READY=1`, `STOPPING=1`).

import LoopCore
import LoopLinux

/// Sends `WATCHDOG=1` to systemd every `period` (half its WatchdogSec) while no watchdog task
/// sees a stalled task: systemd then restarts a firmware that stopped making progress.
public struct SystemdKeepalive: Sendable {
  var ticker: Ticker
  /// Pings sent.
  public private(set) var pings: UInt64 = 0
  /// Pings that failed (systemd's queue full, socket gone).
  public private(set) var failures: UInt64 = 0

  /// Pings every `period` from `start + period`, once `READY=1` has been sent (it ends startup;
  /// a tick before it is skipped).
  public init(period: Duration, start: Instant) {
    ticker = Ticker(period: period, first: start + period, policy: .skip)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    var counters = TaskCounters()
    while case .some = nextTick(&ticker, &cx, &counters) {
      guard world.stalledTask < 0, world.systemdReady else { continue }
      if world.notifySystemd(watchdog: true) { pings += 1 } else { failures += 1 }
    }
    return .pending
  }
}

extension FirmwareWorld {
  /// Sends `WATCHDOG=1` (or `READY=1`) to systemd; false when it failed or there is no systemd.
  @inline(never)
  public func notifySystemd(watchdog: Bool) -> Bool {
    switch systemd {
    case .some(let notify):
      do throws(Errno) {
        if watchdog { try notify.watchdog() } else { try notify.ready() }
        return true
      } catch {
        return false
      }
    case .none:
      return false
    }
  }

  /// Sends `STOPPING=1` to systemd, if run by it.
  public func notifySystemdStopping() {
    switch systemd {
    case .some(let notify): try? notify.stopping()
    case .none: break
    }
  }
}
