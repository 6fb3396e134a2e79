// The simulated board's scripts: a board.json stimulus (logical levels, times from the start,
// lines by index) as the mock GPIO's own `Stimulus` scripts (physical levels, instants, ports).

import LoopCore
import LoopGPIO

extension SimStimulus {
  /// The scripts that play this stimulus from `start`, on the mock ports `ports` (by line
  /// index) of `lines`. A press is two scripts per press (down and up).
  public func scripts(_ lines: FixedList<32, LineConfig>, ports: InlineArray<32, Int>, start: Instant)
    -> [Stimulus]
  {
    func physical(_ line: Int, _ logical: Bool) -> Bool { logical != lines[line].activeLow }
    switch self {
    case .edge(let line, let at, let value):
      return [.level(port: ports[line], at: start + at, high: physical(line, value))]
    case .pulses(let train):
      let hertz = max(1, Int64(train.frequencyHz.double.rounded()))
      let duty = max(1, min(99, train.high.nanoseconds * 100 / max(1, train.period.nanoseconds)))
      return [
        .pulses(
          port: ports[train.line], start: start + train.at, hertz: hertz, dutyPercent: duty,
          count: train.count ?? Int64.max / 4)
      ]
    case .bounce(let line, let at, let transitions, let within, let value):
      let bounces = max(0, transitions / 2)
      let spacing = Duration(nanoseconds: max(1, within.nanoseconds / Int64(max(1, transitions))))
      return [
        .bounce(
          port: ports[line], start: start + at, high: physical(line, value), bounces: bounces,
          spacing: spacing)
      ]
    case .press(let press):
      var result: [Stimulus] = []
      for k in 0..<press.count {
        let down = start + press.at + press.every * Int64(k)
        for (time, logical) in [(down, true), (down + press.hold, false)] {
          if press.bounceTransitions > 0 {
            let spacing = Duration(
              nanoseconds: max(1, press.bounceWithin.nanoseconds / Int64(press.bounceTransitions)))
            result.append(
              .bounce(
                port: ports[press.line], start: time, high: physical(press.line, logical),
                bounces: press.bounceTransitions / 2, spacing: spacing))
          } else {
            result.append(.level(port: ports[press.line], at: time, high: physical(press.line, logical)))
          }
        }
      }
      return result
    case .quadrature(let q):
      let rate = max(1, 1_000_000_000 / max(1, q.interval.nanoseconds))
      return [
        .quadrature(
          a: ports[q.lineA], b: ports[q.lineB], start: start + q.at, stepsPerSecond: rate,
          steps: q.clockwise ? Int64(q.steps) : -Int64(q.steps))
      ]
    }
  }
}
