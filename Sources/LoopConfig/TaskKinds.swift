// What a task kind's file describes. Each kind lives in one file of Kinds/: its settings (the
// value `board.json` becomes), its JSON name and keys, how its task object is read and checked,
// what it holds of the fixed capacities, and how its firmware task is built. Registering a kind
// is its line in Kinds/registry.txt, from which Kinds/generate writes `TaskKind`, its registry
// and its dispatch (TaskKind.generated.swift; README.md, "Adding a task kind", walks through it).

import LoopCore
import LoopLinux
import LoopTasks

/// What one kind's file describes. The settings type conforms (`HeartbeatConfig`).
protocol TaskKindDescription: Equatable, Sendable {
  /// The value of `"kind"` in board.json.
  static var name: StaticString { get }
  /// The kind in messages: "a heartbeat task".
  static var what: StaticString { get }
  /// The task object's keys besides `name` and `kind`, as words separated by spaces.
  static var keys: StaticString { get }
  /// Whether its task makes readings a threshold can watch.
  static var makesReadings: Bool { get }
  /// Whether its task has periodic work, so a watchdog can see it stall (a task that waits for
  /// input may rightly stay idle for days).
  static var isPeriodic: Bool { get }
  /// Whether its task runs at a duty a rule may set (a curve's or a threshold's `pwm`).
  static var takesDuty: Bool { get }

  /// Reads and checks the task object `task` (the validator's path is at it).
  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self
  /// Checks that need every task read (a reference to a task further down); the path is at
  /// the task.
  func check(_ v: inout Validator, _ task: TaskObject) throws(ConfigError)

  /// What one task of this kind holds of the fixed capacities (besides its slot).
  var needs: TaskNeeds { get }
  /// The debounce window this task wants on input line `line`, if it reads that line.
  func debounce(ofLine line: Int) -> Duration?
  /// The firmware task that runs it.
  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask

  /// Adds its Home Assistant discovery configs for task `name` (MQTTSetup.swift).
  func discover(_ d: inout Discovery, _ name: [UInt8])
  /// The duty (0–100) its task starts at when an MQTT command may change it, else nil.
  var commandDuty: Int? { get }
}

extension TaskKindDescription {
  static var makesReadings: Bool { false }
  static var isPeriodic: Bool { false }
  static var takesDuty: Bool { false }
  func check(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) {}
  func debounce(ofLine line: Int) -> Duration? { nil }
  func discover(_ d: inout Discovery, _ name: [UInt8]) {}
  var commandDuty: Int? { nil }
}

/// What one task holds of the fixed capacities besides its executor slot.
struct TaskNeeds {
  /// Whether it waits on time (one timer deadline).
  var timer: Bool
  /// File descriptors it holds while it runs (a watchdog device).
  var fds = 0
  /// Whether it reads or writes files through the worker threads (each holds one fd then).
  var fileReads = false
}

/// A task object being read: its node and its index in `tasks`.
struct TaskObject {
  /// The object's node.
  let node: Int
  /// Its index in `tasks`.
  let index: Int
}

/// What building a configured task needs to know. The tasks' names are the world's
/// (`FirmwareWorld.names`, set before the tasks are built): a copy of the whole config here
/// cost a `BoardConfig` copy per task.
public struct TaskBuild {
  /// The task's index in `tasks` (its slot in the world's tables).
  public let index: Int
  /// When the firmware started: the tasks' time grids begin here.
  public let start: Instant
  /// The config's tasks with periodic work (`BoardConfig.periodicTasks`: what a watchdog can
  /// see stall).
  public let periodicTasks: UInt64
}

/// One registered kind's facts that messages and checks need without a task of that kind; what
/// a task of it does goes through a `switch` over its `TaskKind` (TaskKind.generated.swift).
/// Each fact is a generated `switch` over the index (`TaskKind.name(ofKind:)` ...): constants
/// in code, where an array of entries was built by code at startup.
struct TaskKindEntry: Sendable {
  /// Where it is in `TaskKind.registry`.
  let index: Int

  var name: StaticString { TaskKind.name(ofKind: index) }
  var what: StaticString { TaskKind.what(ofKind: index) }
  /// The kind's own keys (`TaskKindDescription.keys`); `name` and `kind` come before them.
  var keys: StaticString { TaskKind.keys(ofKind: index) }
  var makesReadings: Bool { TaskKind.makesReadings(ofKind: index) }
  var isPeriodic: Bool { TaskKind.isPeriodic(ofKind: index) }
  var takesDuty: Bool { TaskKind.takesDuty(ofKind: index) }

  /// Reads and checks task object `task` as this kind.
  func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> TaskKind {
    try TaskKind.read(kind: index, &v, task)
  }
}

extension BoardConfig {
  /// The tasks with periodic work, one bit per task index: only these can be seen to stall.
  public var periodicTasks: UInt64 {
    var mask: UInt64 = 0
    for i in tasks.indices where tasks[i].entry.isPeriodic { mask |= 1 << UInt64(i) }
    return mask
  }

  /// Input line `line`'s debounce window: its own, or the longest a task reading it wants
  /// (the window is applied where the edges are read, on kernel timestamps).
  public func debounce(ofLine line: Int) -> Duration {
    var window = lines[line].debounce
    for index in tasks.indices {
      if let wanted = tasks[index].kind.debounce(ofLine: line), wanted > window { window = wanted }
    }
    return window
  }

  /// The firmware task that runs configured task `index`, whose settings are `kind`
  /// (`tasks[index].kind`, read once by the caller: reading it here copied the whole task list
  /// into this function's frame); `periodicTasks` is the config's, made once for all tasks.
  @inline(never)
  public static func buildTask(
    _ kind: TaskKind, index: Int, start: Instant, periodicTasks: UInt64, _ world: inout FirmwareWorld,
    _ files: inout OpenFiles
  ) throws(StartupError) -> FirmwareTask {
    try kind.build(TaskBuild(index: index, start: start, periodicTasks: periodicTasks), &world, &files)
  }
}
