// The wall clock records carry beside their monotonic time: Unix nanoseconds from
// CLOCK_REALTIME. A record's monotonic instant (a tick, a GPIO edge's kernel timestamp) is
// moved onto the wall clock by the offset between the two clocks read at that moment, so an
// NTP step (a Pi without a real-time clock boots on the time it last saved, then NTP sets it)
// shows in the very next record. Reading both clocks is two vDSO calls: no syscall, no
// blocking, no heap. Tests on virtual time use a fixed offset instead, so records stay
// deterministic.

import CLinux
import LoopCore

/// Where a program's wall-clock time comes from.
public enum WallClock: Equatable, Sendable {
  /// The system's CLOCK_REALTIME, read when asked (it follows every NTP step and `date -s`).
  case system
  /// The monotonic time plus a fixed offset in nanoseconds (virtual-time tests, replays).
  case fixed(offset: Int64)

  /// `time` (on CLOCK_MONOTONIC, or the platform's clock for `fixed`) as Unix nanoseconds.
  public func unixNanoseconds(at time: Instant) -> Int64 {
    switch self {
    case .system: return time.nanoseconds &+ realtimeOffsetNow()
    case .fixed(let offset): return time.nanoseconds &+ offset
    }
  }
}

/// The current time on CLOCK_REALTIME in Unix nanoseconds. The corresponding C function is
/// `clock_gettime(CLOCK_REALTIME)`.
@inline(__always)
public func realtimeNow() -> Int64 {
  var now = timespec()
  // A clock read cannot fail with a valid pointer and clock id.
  _ = cl_clock_gettime(CLOCK_REALTIME, &now)
  return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC, now: what turns a monotonic instant into Unix time.
/// Read back to back (a few tens of nanoseconds apart, unless the thread is preempted between).
public func realtimeOffsetNow() -> Int64 {
  let wall = realtimeNow()
  return wall &- monotonicNow().nanoseconds
}
