// The configuration values a valid board.json becomes. Every list has a fixed capacity
// (`ConfigLimits`) and is stored inline, so a `BoardConfig` is one plain value with no heap
// storage: the program builds it once at startup and the task library copies what it needs.
// References between parts (a task's line, a threshold's source task) are indices into
// `BoardConfig.lines` / `BoardConfig.tasks`, resolved and checked by the validator.

import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

/// The fixed capacities a config is checked against before anything starts. Those that are
/// the firmware's own tables come from it (`FirmwareLimits`, `FirmwareInterrupt`, the
/// executor's slots); the rest are what the platform and GPIO backends hold per use, or the
/// schema's own sizes. LimitsTests checks the executor takes what the plan allows.
public enum ConfigLimits {
  /// Tasks in `tasks`: the firmware's per-task tables.
  public static let maxTasks = FirmwareLimits.tasks
  /// Entries in `lines`: the firmware's per-line tables.
  public static let maxLines = FirmwareLimits.lines
  /// Executor slots: the configured tasks plus the program's own (see `CapacityPlan`).
  public static let maxSlots = Firmware<EpollPlatform>.slots
  /// Timer deadlines armed at once: the executor's timer queue holds one per slot (each slot
  /// holds at most one), `Executor<40, 40, …>` in LoopTasks' Firmware.swift.
  public static let maxTimers = Firmware<EpollPlatform>.slots
  /// Slots the program itself always uses: the output writer, the signal handler, the summary
  /// writer, the worker dispatcher, the `--duration` stop timer and the systemd keepalive (both
  /// reserved: the option and `$WATCHDOG_USEC` are known only at run time). The firmware
  /// reserves `FirmwareLimits.systemTasks`; the rest serve the simulated board's drivers.
  public static let systemTasks = 6
  /// Of `systemTasks`, those that wait on time: the stop timer and the systemd keepalive.
  public static let systemTimers = 2
  /// File descriptors the platform itself holds: epoll, timerfd, eventfd, signalfd, and the
  /// worker threads' two eventfds (requests, completions).
  public static let platformFds = 6
  /// Fds the MQTT client holds: its socket and the epoll set that watches it.
  public static let mqttFds = 2
  /// File descriptors held for systemd: the `$NOTIFY_SOCKET` datagram socket (reserved).
  public static let systemdFds = 1
  /// Fds one line on a real chip holds: libgpiod v1 opens the chip again for each request (a
  /// chip fd of the line's own, so closing it releases the line) and the request is a line fd.
  public static let realLineFds = 2
  /// Fds held while lines are requested on a real chip: the chip opened once for name lookups.
  public static let realChipFds = 1
  /// Worker threads: each holds one fd while it reads a file.
  public static let workerThreads = FirmwareLimits.workerThreads
  /// Interrupt lines reserved for the program (signals, output writable); line `n` of `lines`
  /// uses interrupt `systemInterrupts + n`.
  public static let systemInterrupts = FirmwareInterrupt.firstLine
  /// Fds one mock input holds: its pipe's two ends and a duplicate of the read end.
  public static let mockInputFds = 3
  /// Threshold tasks one source task's readings can notify.
  public static let maxWatchersPerSource = FirmwareLimits.subscribers
  /// File descriptors the program may hold (epoll registrations and plain files).
  public static let maxFds = 64
  /// Interrupt lines (the core's `Interrupt.capacity`).
  public static let maxInterrupts = Interrupt.capacity
  /// Scripted stimuli in `sim.stimuli`.
  public static let maxStimuli = 64
  /// Scripted files in `sim.files`.
  public static let maxSimFiles = 8
  /// Values in one `sim.files[n].values`.
  public static let maxSimFileValues = 16
  /// Durations in a heartbeat's `pattern_ms`: what the heartbeat task holds.
  public static let maxPatternSteps = PatternSteps.count
  /// Spellings of one line: `name` plus `aliases`.
  public static let maxLineNames = 4
  /// The largest config file read.
  public static let maxFileBytes = 256 * 1024
  /// The output ring's allowed size in bytes (at most the firmware's ring).
  public static let ringBytes: ClosedRange<Int> = 1024...FirmwareLimits.outputBytes
  /// The output ring's size when `output.ring_bytes` is absent.
  public static let defaultRingBytes = FirmwareLimits.outputBytes
}

/// A validated board.json.
public struct BoardConfig: Equatable, Sendable {
  /// The board's display name (`board`).
  public var board: Label
  /// Whether the lines are on the simulated board (`"gpio": "mock"`): the mock GPIO backend,
  /// whose one chip is `BoardConfig.simulatedChipName`.
  public var simulated: Bool
  /// Which GPIO chip the lines are on (`gpio`).
  public var chip: ChipSelector
  /// The consumer label GPIO requests carry, shown by `gpioinfo` (`gpio.consumer`).
  public var consumer: Name
  /// The named lines (`lines`), in file order.
  public var lines: FixedList<32, LineConfig>
  /// The tasks (`tasks`), in file order.
  public var tasks: FixedList<32, TaskConfig>
  /// Where records go (`output`).
  public var output: RecordOutput
  /// Scripted stimuli for the mock chip (`sim.stimuli`); empty on a real board.
  public var stimuli: FixedList<64, SimStimulus>
  /// Files the mock board writes on a schedule (`sim.files`); empty on a real board.
  public var simFiles: FixedList<8, SimFile>
  /// The MQTT broker records are also published to (`mqtt`), if any.
  public var mqtt: MQTTConfig? = nil
  /// By line index, the task that uses the line, -1 for none (an output no task drives is one
  /// MQTT commands may set).
  public var lineUsers = FixedList<32, Int>()

  /// The index of the line whose key in `lines` is `id`.
  public func lineIndex(_ id: [UInt8]) -> Int? {
    for index in lines.indices where lines[index].id.equals(id) { return index }
    return nil
  }

  /// The index of the task named `name`.
  public func taskIndex(_ name: [UInt8]) -> Int? {
    for index in tasks.indices where tasks[index].name.equals(name) { return index }
    return nil
  }
}

extension BoardConfig {
  /// The name of the simulated board's one chip (its label is `sensorloop-sim`).
  public static let simulatedChipName: StaticString = "gpiochip0"
}

/// Line direction.
public enum Direction: Equatable, Sendable { case input, output }

/// One entry of `lines`: a GPIO line and how it is requested.
public struct LineConfig: Equatable, Sendable {
  /// The key in `lines`; tasks refer to the line by it.
  public var id: Name
  /// Kernel line names to try in order: `name`, then each of `aliases`. May be empty when
  /// `offset` is given.
  public var names: FixedList<4, Name>
  /// The line offset on the chip, tried after the names (`offset`).
  public var offset: Int?
  /// The BCM GPIO number, when the chip is a known Raspberry Pi header controller and the
  /// names or offset say which it is.
  public var bcm: Int?
  /// The 40-pin header's physical pin for `bcm`, when it is on the header.
  public var headerPin: Int?
  /// Input or output.
  public var direction: Direction
  /// The edges requested for an input (`edge`; derived from the task when absent); nil for
  /// outputs and for an input written `"edge": "none"` (requested with both edges).
  public var edge: EdgeDetection?
  /// The bias resistor.
  public var bias: Bias
  /// Whether the line is active low (logical 1 = physical low).
  public var activeLow: Bool
  /// The debounce window (`debounce_ms`): done by the kernel with libgpiod v2, in software on
  /// kernel timestamps with v1. Zero for none.
  public var debounce: Duration
  /// Output drive.
  public var drive: Drive
  /// An output's logical value when requested.
  public var initialValue: Bool
  /// Edges the kernel queues for an input with libgpiod v2 (`kernel_queue`, 1 to
  /// `InputConfig.maxKernelQueue`, default `InputConfig.defaultKernelQueue`; the kernel rounds
  /// up to a power of two). v1's queue is always 16.
  public var kernelQueue: Int = InputConfig.defaultKernelQueue
}

extension LineConfig {
  /// How the GPIO layer finds the line: its names in order, then its offset.
  public var selector: LineSelector {
    var selector = LineSelector(names.count > 0 ? GPIOName(names[0]) : GPIOName(), offset: offset)
    if names.count > 1 {
      for k in 1..<names.count { _ = selector.add(alternative: GPIOName(names[k])) }
    }
    return selector
  }

  /// How the line is requested when it is an output.
  public var outputConfig: OutputConfig {
    OutputConfig(initial: initialValue, drive: drive, activeLow: activeLow)
  }
}

extension BoardConfig {
  /// How input line `line` is requested: raising its interrupt line, reporting the edges its
  /// task needs (both for `"edge": "none"`), debounced by the longest window asked for.
  public func inputConfig(ofLine line: Int) -> InputConfig {
    let config = lines[line]
    return InputConfig(
      interrupt: FirmwareInterrupt.line(line), edges: config.edge ?? .both, bias: config.bias,
      activeLow: config.activeLow, debounce: debounce(ofLine: line), kernelQueue: config.kernelQueue)
  }
}

/// One entry of `tasks`.
public struct TaskConfig: Equatable, Sendable {
  /// The unique task name records carry.
  public var name: Name
  /// What the task does and its settings (TaskKinds.swift, Kinds/).
  public let kind: TaskKind
  /// Where its kind is in `TaskKind.registry` (found when the task is read, so the validator
  /// makes every `TaskConfig`).
  let kindIndex: Int

  /// Its kind's registry entry.
  var entry: TaskKindEntry { TaskKindEntry(index: kindIndex) }
}

/// Where records are written (`output`; not a GPIO output line's `OutputConfig`).
public struct RecordOutput: Equatable, Sendable {
  /// The destination.
  public var target: OutputTarget
  /// The ring buffer's capacity in bytes.
  public var ringBytes: Int
  /// How records are written: JSON lines (the default) or InfluxDB line protocol.
  public var format = OutputFormat.json
}

/// An output destination.
public enum OutputTarget: Equatable, Sendable {
  case stdout
  case stderr
  /// A file, created or appended to.
  case file(Path)
}

/// A scripted input on the mock chip as board.json writes it (SimScripts.swift turns it into
/// the mock GPIO's `Stimulus` scripts). Levels are logical (1 = active), as tasks see them.
public enum SimStimulus: Equatable, Sendable {
  /// The line goes to `value` at `at`.
  case edge(line: Int, at: Duration, value: Bool)
  /// A pulse train.
  case pulses(PulseTrain)
  /// Contact bounce: `transitions` level changes within `within`, ending at `value`.
  case bounce(line: Int, at: Duration, transitions: Int, within: Duration, value: Bool)
  /// Button presses.
  case press(Press)
  /// Encoder rotation.
  case quadrature(Quadrature)
}

/// A pulse train on one line: active for `high`, inactive for `period - high`.
public struct PulseTrain: Equatable, Sendable {
  /// The input line.
  public var line: Int
  /// When the first pulse starts.
  public var at: Duration
  /// The frequency as written.
  public var frequencyHz: DecimalNumber
  /// One period (from the frequency, rounded to the nanosecond).
  public var period: Duration
  /// The active part of each period.
  public var high: Duration
  /// How many pulses; nil for as long as the program runs.
  public var count: Int64?
}

/// Button presses, optionally with contact bounce on each edge.
public struct Press: Equatable, Sendable {
  /// The input line.
  public var line: Int
  /// When the first press starts.
  public var at: Duration
  /// How long each press holds.
  public var hold: Duration
  /// How many presses.
  public var count: Int
  /// From one press's start to the next.
  public var every: Duration
  /// Extra level changes before each edge settles (0 for clean edges).
  public var bounceTransitions: Int
  /// The time the bounce on each edge spans.
  public var bounceWithin: Duration
}

/// Quadrature steps on an encoder's two lines.
public struct Quadrature: Equatable, Sendable {
  /// Line A.
  public var lineA: Int
  /// Line B.
  public var lineB: Int
  /// When the first step happens.
  public var at: Duration
  /// Quadrature edges (quarter cycles) to produce.
  public var steps: Int
  /// Clockwise (A leads B) or counter-clockwise.
  public var clockwise: Bool
  /// The time between steps (from `rate_hz`).
  public var interval: Duration
}

/// A file the mock board writes: `values[k]` as a decimal line at `at + k × every`.
public struct SimFile: Equatable, Sendable {
  /// The file (absolute path).
  public var path: Path
  /// When the first value is written.
  public var at: Duration
  /// The time between writes.
  public var every: Duration
  /// The values, written in order.
  public var values: FixedList<16, Int64>
  /// Whether the values start over after the last one.
  public var repeats: Bool
}
