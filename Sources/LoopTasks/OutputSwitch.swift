// The switch: an output line driven by a binary source. A button task's presses toggle it (as
// gpiozero's `button.when_pressed = relay.toggle`), or it follows a level: a button's held
// state or an input line's own level (gpiozero's `relay.source = sensor`), inverted if asked.
// Every change it makes is a record, and so is the state it starts in.

import LoopCore
import LoopGPIO

/// Drives an output line from a button task's presses or held state, or from an input line.
public struct OutputSwitch: Sendable {
  /// Where the switch takes its cue.
  public enum Source: Equatable, Sendable {
    /// A button task (by task index): its presses and held state (`BinaryBoard`).
    case task(Int)
    /// An input line (by line index) the switch reads itself: its edges and level.
    case line(Int)
  }

  /// The task index.
  public let index: Int
  /// The output line index.
  public let line: Int
  /// The binary source.
  public let source: Source
  /// Whether each press (a rising edge) flips the output; else the output follows the level.
  public let toggles: Bool
  /// Whether a following output is the opposite of the level.
  public let invert: Bool
  var started = false
  var seenSequence: UInt64 = 0
  var seenPresses: UInt64 = 0

  /// A switch on `line` driven by `source`: toggled by presses, or following (`invert`ed).
  public init(index: Int, line: Int, source: Source, toggles: Bool, invert: Bool = false) {
    self.index = index
    self.line = line
    self.source = source
    self.toggles = toggles
    self.invert = invert
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    if !started {
      started = true
      start(&cx, &world)
    }
    switch source {
    case .task(let task):
      let state = world.binary.latest(task)
      if state.sequence != seenSequence {
        seenSequence = state.sequence
        if toggles {
          // Presses since the last look: each flips the output (a late poll sees them all).
          let presses = state.presses - seenPresses
          seenPresses = state.presses
          if presses > 0 {
            let value = presses % 2 == 1 ? !world.outputValue(line) : world.outputValue(line)
            set(value, presses: presses, &cx, &world)
          }
        } else {
          set(state.level != invert, presses: 0, &cx, &world)
        }
      }
      world.binary.subscribe(task, &cx)
    case .line(let input):
      while let event = nextEdge(input, &cx, &world, task: index) {
        let level = event.edge == .rising
        if toggles {
          if level { set(!world.outputValue(line), presses: 1, &cx, &world) }
        } else {
          set(level != invert, presses: 0, &cx, &world)
        }
      }
    }
    return .pending
  }

  /// The state it starts in: a toggle keeps the line's initial value, a follower takes its
  /// source's level now (an input line's level when it was requested; a button counts as up
  /// until it reports a press). Reported either way, so the output's state is known from the
  /// start.
  private mutating func start<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
  {
    var value = world.outputValue(line)
    if !toggles {
      switch source {
      case .task(let task): value = world.binary.latest(task).level != invert
      case .line(let input): value = (world.initialLevel(ofInput: input) ?? false) != invert
      }
      if value != world.outputValue(line) {
        drive(&world.outputs[line]!, value, at: cx.now, &world.counters[index])
      }
    }
    if case .task(let task) = source {
      seenSequence = world.binary.latest(task).sequence
      seenPresses = world.binary.latest(task).presses
    }
    report(value, at: cx.now, presses: 0, initial: true, &cx, &world)
  }

  /// Drives the output to `value` now and reports it, when that is a change (or when presses
  /// that cancelled out left it as it was: the record says how many). The record is stamped
  /// when the output changed.
  @inline(never)
  private func set<S: Scheduler & ~Copyable>(
    _ value: Bool, presses: UInt64, _ cx: inout Context<S>, _ world: inout FirmwareWorld
  ) {
    let now = cx.now
    let changed = value != world.outputValue(line)
    if changed { drive(&world.outputs[line]!, value, at: now, &world.counters[index]) }
    if changed || presses > 1 { report(value, at: now, presses: presses, initial: false, &cx, &world) }
  }

  @inline(never)
  private func report<S: Scheduler & ~Copyable>(
    _ value: Bool, at time: Instant, presses: UInt64, initial: Bool, _ cx: inout Context<S>,
    _ world: inout FirmwareWorld
  ) {
    var record = world.record(index, at: time)
    record.field("event", value ? "on" : "off")
    if initial { record.field("initial", bool: true) }
    if presses > 1 { record.field("presses", integer: Int64(presses)) }
    record.finish()
    world.emit(record, task: index, &cx)
  }
}
