// The simulated board's scripts: a board.json stimulus (logical levels, times from the start,
// lines by index) as the mock GPIO's own `Stimulus` scripts (physical levels, instants, ports).

import LoopCore
import LoopGPIO

extension SimStimulus {
  /// How many scripts play this stimulus: two per press for presses (down and up), else one.
  public var scriptCount: Int {
    guard case .press(let press) = self else { return 1 }
    return press.count * 2
  }

  /// Script `k` (of `scriptCount`, in the order they are scheduled) that plays this stimulus
  /// from `start`, on the mock ports `ports` (by line index); bit `i` of `activeLow` is set
  /// for an active-low line `i`. Made one at a time: no array of scripts at startup.
  public func script(_ k: Int, ports: InlineArray<32, Int>, activeLow: UInt64, start: Instant) -> Stimulus {
    func physical(_ line: Int, _ logical: Bool) -> Bool { logical != (activeLow >> UInt64(line) & 1 != 0) }
    switch self {
    case .edge(let line, let at, let value):
      return .level(port: ports[line], at: start + at, high: physical(line, value))
    case .pulses(let train):
      let hertz = max(1, Int64(train.frequencyHz.double.rounded()))
      let duty = max(1, min(99, train.high.nanoseconds * 100 / max(1, train.period.nanoseconds)))
      return .pulses(
        port: ports[train.line], start: start + train.at, hertz: hertz, dutyPercent: duty,
        count: train.count ?? Int64.max / 4)
    case .bounce(let line, let at, let transitions, let within, let value):
      let bounces = max(0, transitions / 2)
      let spacing = Duration(nanoseconds: max(1, within.nanoseconds / Int64(max(1, transitions))))
      return .bounce(
        port: ports[line], start: start + at, high: physical(line, value), bounces: bounces,
        spacing: spacing)
    case .press(let press):
      // Script 2n is press n's down edge, 2n + 1 its up edge.
      let down = start + press.at + press.every * Int64(k / 2)
      let logical = k % 2 == 0
      let time = logical ? down : down + press.hold
      if press.bounceTransitions > 0 {
        let spacing = Duration(
          nanoseconds: max(1, press.bounceWithin.nanoseconds / Int64(press.bounceTransitions)))
        return .bounce(
          port: ports[press.line], start: time, high: physical(press.line, logical),
          bounces: press.bounceTransitions / 2, spacing: spacing)
      }
      return .level(port: ports[press.line], at: time, high: physical(press.line, logical))
    case .quadrature(let q):
      let rate = max(1, 1_000_000_000 / max(1, q.interval.nanoseconds))
      return .quadrature(
        a: ports[q.lineA], b: ports[q.lineB], start: start + q.at, stepsPerSecond: rate,
        steps: q.clockwise ? Int64(q.steps) : -Int64(q.steps))
    }
  }
}
