// The switch kind: an output line driven by a binary source. A button task's presses toggle
// it; a button's held state or an input line's level is followed (optionally inverted).
// {"name": "relay", "kind": "switch", "line": "relay", "source": "button"}
// {"name": "lamp", "kind": "switch", "line": "lamp", "input": "pir", "mode": "follow"}

import LoopCore
import LoopGPIO
import LoopTasks

/// An output line toggled by a button's presses, or following a button or an input line.
public struct SwitchConfig: Equatable, Sendable {
  /// The output line.
  public var line: Int
  /// A button task, or an input line the switch reads itself.
  public var source: OutputSwitch.Source
  /// Whether each press flips the output; else the output follows the source's level.
  public var toggles: Bool
  /// Whether a following output is the opposite of the level.
  public var invert: Bool
}

extension SwitchConfig: TaskKindDescription {
  static var name: StaticString { "switch" }
  static var what: StaticString { "a switch task" }
  static var keys: StaticString { "line source input mode invert" }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    let line = try v.lineRef(task, "line", LineNeed(direction: .output, edges: nil))
    let sourceNode = v.doc.member(element, "source")
    let inputNode = v.doc.member(element, "input")
    if sourceNode == nil && inputNode == nil {
      throw v.missing(element, "source", "the name of a button task, or \"input\": an input line")
    }
    if sourceNode != nil, inputNode != nil {
      throw v.error(
        .conflict, atKey: "input", of: element,
        "a switch takes either \"source\" (a button task) or \"input\" (an input line), not both")
    }
    // A button is toggled by default (gpiozero's `when_pressed = relay.toggle`), a line followed.
    let mode = try v.choice(element, "mode", "toggle follow", default: sourceNode != nil ? 0 : 1)
    let toggles = mode == 0
    let source: OutputSwitch.Source
    if sourceNode != nil {
      source = .task(try v.taskRef(task, "source"))
    } else {
      // Toggling needs the rising edges (presses); following needs both.
      source = .line(
        try v.lineRef(task, "input", LineNeed(direction: .input, edges: toggles ? .rising : .both)))
    }
    let invert = try v.boolean(element, "invert", default: false)
    if invert && toggles, v.doc.member(element, "invert") != nil {
      throw v.error(
        .conflict, atKey: "invert", of: element,
        "\"invert\" applies to \"mode\": \"follow\" only; a toggle flips")
    }
    return SwitchConfig(line: line, source: source, toggles: toggles, invert: invert)
  }

  /// A task source (possibly further down) is a button, followed by at most
  /// `ConfigLimits.maxWatchersPerSource` switches.
  func check(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) {
    guard case .task(let source) = source else { return }
    let node = v.doc.member(task.node, "source")!
    let mark = v.push("source")
    defer { v.pop(mark) }
    if v.taskKindIndex(source) != ButtonConfig.kindIndex {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(v.taskName(source))
      message.append(" is ")
      message.append(v.taskEntry(source).what)
      message.append("; a switch's source is a button task (or use \"input\" for an input line)")
      throw v.error(.conflict, at: node, message)
    }
    var listeners = 0
    for i in 0...task.index {
      if case .outputSwitch(let other) = v.scope.tasks.element(i).kind, other.source == .task(source) {
        listeners += 1
      }
    }
    if listeners > ConfigLimits.maxWatchersPerSource {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(v.taskName(source))
      message.append(" already drives ")
      message.appendDecimal(ConfigLimits.maxWatchersPerSource)
      message.append(" switches, the most one button can")
      throw v.error(.capacity, at: node, message)
    }
  }

  /// It waits for its source's events only.
  var needs: TaskNeeds { TaskNeeds(timer: false) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .outputSwitch(
      OutputSwitch(index: task.index, line: line, source: source, toggles: toggles, invert: invert))
  }

  /// Read-only, as a `binary_sensor`: the switch's line is its task's (a command would be
  /// overwritten at the next press); its state is the task's `on`/`off` record on `<task>/state`.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.binarySensor(name)
  }
}
