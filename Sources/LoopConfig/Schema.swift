// The configuration values a valid board.json becomes. Every list has a fixed capacity
// (`ConfigLimits`) and is stored inline, so a `BoardConfig` is one plain value with no heap
// storage: the program builds it once at startup and the task library copies what it needs.
// References between parts (a task's line, a threshold's source task) are indices into
// `BoardConfig.lines` / `BoardConfig.tasks`, resolved and checked by the validator.

import LoopCore

/// The fixed capacities a config is checked against before anything starts.
public enum ConfigLimits {
  /// Tasks in `tasks` (executor slots for configured tasks).
  public static let maxTasks = 32
  /// Entries in `lines`.
  public static let maxLines = 32
  /// Executor slots: the configured tasks plus the program's own (see `CapacityPlan`).
  public static let maxSlots = 40
  /// Timer deadlines armed at once (each slot holds at most one, so never more than `maxSlots`).
  public static let maxTimers = 40
  /// Slots the program itself always uses: the output writer, the signal handler, the summary
  /// writer, the worker dispatcher, the `--duration` stop timer and the systemd keepalive (both
  /// reserved: the option and `$WATCHDOG_USEC` are known only at run time).
  public static let systemTasks = 6
  /// Of `systemTasks`, those that wait on time: the stop timer and the systemd keepalive.
  public static let systemTimers = 2
  /// File descriptors the platform itself holds: epoll, timerfd, eventfd, signalfd, and the
  /// worker threads' two eventfds (requests, completions).
  public static let platformFds = 6
  /// File descriptors held for systemd: the `$NOTIFY_SOCKET` datagram socket (reserved).
  public static let systemdFds = 1
  /// Fds one line on a real chip holds: libgpiod v1 opens the chip again for each request (a
  /// chip fd of the line's own, so closing it releases the line) and the request is a line fd.
  public static let realLineFds = 2
  /// Fds held while lines are requested on a real chip: the chip opened once for name lookups.
  public static let realChipFds = 1
  /// Worker threads (`FirmwareLimits.workerThreads`): each holds one fd while it reads a file.
  public static let workerThreads = 2
  /// Interrupt lines reserved for the program (signals, output writable); line `n` of `lines`
  /// uses interrupt `systemInterrupts + n`.
  public static let systemInterrupts = 8
  /// Fds one mock input holds: its pipe's two ends and a duplicate of the read end.
  public static let mockInputFds = 3
  /// Threshold tasks one source task's readings can notify.
  public static let maxWatchersPerSource = 4
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
  /// The output ring's allowed size in bytes.
  public static let ringBytes: ClosedRange<Int> = 1024...(64 * 1024)
  /// The output ring's size when `output.ring_bytes` is absent.
  public static let defaultRingBytes = 64 * 1024
}

/// A validated board.json.
public struct BoardConfig: Equatable, Sendable {
  /// The board's display name (`board`).
  public var board: Label
  /// Which GPIO chip the lines are on (`gpio`).
  public var chip: ChipSelector
  /// The consumer label GPIO requests carry, shown by `gpioinfo` (`gpio.consumer`).
  public var consumer: Name
  /// The named lines (`lines`), in file order.
  public var lines: FixedList<32, LineConfig>
  /// The tasks (`tasks`), in file order.
  public var tasks: FixedList<32, TaskConfig>
  /// Where records go (`output`).
  public var output: OutputConfig
  /// Scripted stimuli for the mock chip (`sim.stimuli`); empty on a real board.
  public var stimuli: FixedList<64, Stimulus>
  /// Files the mock board writes on a schedule (`sim.files`); empty on a real board.
  public var simFiles: FixedList<8, SimFile>

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

/// How the GPIO chip is found. Never by number: chip numbers change between kernels.
public enum ChipSelector: Equatable, Sendable {
  /// The simulated board (mock GPIO backend).
  case mock
  /// The chip whose label is this (`pinctrl-bcm2711`): the portable way.
  case label(Name)
  /// The chip with this device name (`gpiochip0`).
  case name(Name)
  /// The chip at this path (`/dev/gpiochip0`).
  case path(Path)
}

/// Line direction.
public enum Direction: Equatable, Sendable { case input, output }
/// Which edges a line reports (inputs) or a pulse counter counts.
public enum Edge: Equatable, Sendable { case none, rising, falling, both }
/// The line's bias (pull) resistor.
public enum Bias: Equatable, Sendable { case asIs, disabled, pullUp, pullDown }
/// How an output line is driven.
public enum Drive: Equatable, Sendable { case pushPull, openDrain, openSource }

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
  /// The edges requested for an input (`edge`; derived from the task when absent); `.none`
  /// for outputs.
  public var edge: Edge
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
  /// Edges the kernel queues for an input with libgpiod v2 (`kernel_queue`, 1 to 1024, default
  /// 256; the kernel rounds up to a power of two). v1's queue is always 16.
  public var kernelQueue: Int = 256
}

/// One entry of `tasks`.
public struct TaskConfig: Equatable, Sendable {
  /// The unique task name records carry.
  public var name: Name
  /// What the task does and its settings.
  public var kind: TaskKind
}

/// The task kinds and their settings.
public enum TaskKind: Equatable, Sendable {
  case heartbeat(HeartbeatConfig)
  case button(ButtonConfig)
  case pulseCounter(PulseCounterConfig)
  case sampler(SamplerConfig)
  case encoder(EncoderConfig)
  case threshold(ThresholdConfig)
  case watchdog(WatchdogConfig)
  case ticker(TickerConfig)
  case pwm(PWMConfig)
}

/// Blinks an output line: on for `pattern[0]`, off for `pattern[1]`, on for `pattern[2]` ...
public struct HeartbeatConfig: Equatable, Sendable {
  /// The output line (index into `BoardConfig.lines`).
  public var line: Int
  /// Alternating on/off durations, an even count of 2 to 16.
  public var pattern: FixedList<16, Duration>
}

/// A debounced push button: press, release and long-press events.
public struct ButtonConfig: Equatable, Sendable {
  /// The input line.
  public var line: Int
  /// How long the level must hold before a change counts.
  public var debounce: Duration
  /// How long a press lasts before a long-press event; nil for no long-press events.
  public var longPress: Duration?
}

/// Counts pulses and reports the count and rate per window (anemometer, flow, energy meter).
public struct PulseCounterConfig: Equatable, Sendable {
  /// The input line.
  public var line: Int
  /// Which edges count as pulses: rising, falling or both.
  public var edge: Edge
  /// The reporting window.
  public var window: Duration
  /// The reported value is pulses per second × `scale` (2.4 for an anemometer in km/h).
  public var scale: DecimalNumber
  /// The reported value's unit.
  public var unit: Unit
}

/// Reads a number from a file every period: value = raw × scale + offset.
public struct SamplerConfig: Equatable, Sendable {
  /// The file (absolute path), e.g. `/sys/class/thermal/thermal_zone0/temp`.
  public var path: Path
  /// How often it is read.
  public var period: Duration
  /// Multiplies the raw number (0.001 for millidegrees to °C).
  public var scale: DecimalNumber
  /// Added after scaling.
  public var offset: DecimalNumber
  /// The reported value's unit.
  public var unit: Unit
}

/// A quadrature rotary encoder: lines A and B decoded into a position.
public struct EncoderConfig: Equatable, Sendable {
  /// Line A (input).
  public var lineA: Int
  /// Line B (input).
  public var lineB: Int
  /// Quadrature edges per detent (1, 2 or 4); the position counts detents.
  public var stepsPerDetent: Int
}

/// Drives an output on when a source reading rises above `onAbove`, off when it falls
/// below `offBelow` (hysteresis).
public struct ThresholdConfig: Equatable, Sendable {
  /// The task whose readings are watched (a sampler, pulse counter or encoder).
  public var source: Int
  /// The output line.
  public var line: Int
  /// The output turns on when a reading exceeds this.
  public var onAbove: DecimalNumber
  /// The output turns off when a reading falls below this (at most `onAbove`).
  public var offBelow: DecimalNumber
}

/// Watches the periodic tasks for stalls (gating systemd's `WATCHDOG=1` pings and printing
/// stall records) and, with a device, kicks a hardware watchdog while none is stalled.
public struct WatchdogConfig: Equatable, Sendable {
  /// The watchdog device (absolute path, a character device), e.g. `/dev/watchdog`; nil to
  /// supervise only.
  public var device: Path?
  /// How often the watched tasks are checked (and the device kicked).
  public var kick: Duration
  /// A watched task later than its own next deadline by more than this is stalled: kicking
  /// (and systemd's `WATCHDOG=1`) stops.
  public var stall: Duration
  /// The watched tasks, one bit per task index.
  public var watched: UInt64
  /// Whether a clean exit writes the magic 'V' so the watchdog is disarmed.
  public var disarmOnExit: Bool

  /// Whether task `index` is watched.
  public func watches(_ index: Int) -> Bool { watched & (1 << UInt64(index)) != 0 }
}

/// Emits a tick record on a fixed grid.
public struct TickerConfig: Equatable, Sendable {
  /// The grid's period.
  public var period: Duration
}

/// Software PWM on an output line (slow loads: LEDs, heaters, relays).
public struct PWMConfig: Equatable, Sendable {
  /// The output line.
  public var line: Int
  /// One on+off cycle.
  public var period: Duration
  /// The share of each period the line is on, 0 to 100.
  public var dutyPercent: Int
}

/// Where records are written.
public struct OutputConfig: Equatable, Sendable {
  /// The destination.
  public var target: OutputTarget
  /// The ring buffer's capacity in bytes.
  public var ringBytes: Int
}

/// An output destination.
public enum OutputTarget: Equatable, Sendable {
  case stdout
  case stderr
  /// A file, created or appended to.
  case file(Path)
}

/// A scripted input on the mock chip. Levels are logical (1 = active), as tasks see them.
public enum Stimulus: Equatable, Sendable {
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
