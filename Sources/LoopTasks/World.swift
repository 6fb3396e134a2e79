// The state every firmware task shares: GPIO lines, the output ring, the latest reading of
// when each periodic task is next due (for the watchdog), per-task counters and the shutdown requests.
// Sized by named capacities and owned by the program for its whole run.

import LoopCore
import LoopGPIO
import LoopLinux
import LoopMQTT

/// The capacities of a firmware build.
public enum FirmwareLimits {
  /// Configured tasks (the executor has `systemTasks` more slots for its own tasks).
  public static let tasks = 32
  /// GPIO lines.
  public static let lines = 32
  /// Slots for the program's own tasks: output writer, signals, stop timer, stimuli, spare.
  public static let systemTasks = 8
  /// Bytes in the output ring.
  public static let outputBytes = 65_536
  /// Tasks one reading may notify (thresholds watching it).
  public static let subscribers = 4
  /// Slots of the world's `BlockingWorker`: one per task (a sampler uses its task index), the
  /// output writer's and the summary writer's.
  public static let workerSlots = tasks + 2
  /// The worker slot of the output writer (writes to a regular file).
  public static let outputWorkerSlot = tasks
  /// The worker slot of the summary writer (writes to stderr).
  public static let summaryWorkerSlot = tasks + 1
  /// Worker threads: a read that never returns (a FIFO nobody writes) holds one; the other
  /// keeps the rest of the slow I/O (other samplers, the output file, the summary) going.
  public static let workerThreads = 2
}

/// The interrupt lines the firmware uses.
public enum FirmwareInterrupt {
  /// SIGINT or SIGTERM: stop.
  public static let stop = Interrupt(0)
  /// SIGUSR1: print the summary and go on.
  public static let summary = Interrupt(1)
  /// The output fd became writable.
  public static let outputWritable = Interrupt(2)
  /// SIGHUP: reload the config.
  public static let reload = Interrupt(3)
  /// SIGPIPE, taken so a closed output pipe is an EPIPE write error; nothing waits for it.
  public static let brokenPipe = Interrupt(4)
  /// A summary was rendered into `FirmwareWorld.summary` (raised by the program, in software).
  public static let summaryReady = Interrupt(6)
  /// A `BlockingWorker` request finished (the worker's trigger).
  public static let workerDone = Interrupt(7)
  /// The first GPIO line's interrupt; line `n` uses `firstLine + n`.
  public static let firstLine = 8

  /// The interrupt of GPIO line `index`.
  public static func line(_ index: Int) -> Interrupt { Interrupt(firstLine + index) }
}

/// The latest reading of a task, and who wants to hear about the next one.
public struct Reading: Sendable {
  /// The value in the task's unit.
  public var value: Double
  /// When it was taken.
  public var time: Instant
  /// Readings published so far (0: none yet).
  public var sequence: UInt64
}

/// One reading slot per task, with a few subscribers each.
public struct ReadingBoard: Sendable {
  // Filled by `init(first:next:)`, a loop: `init(repeating:)` is unrolled, one store per element
  // (FirmwareWorld.init below).
  private var latest = InlineArray<32, Reading>(first: Reading(value: 0, time: .zero, sequence: 0)) { $0 }
  private var listeners = Listeners()

  /// No readings yet.
  public init() {}

  /// The latest reading of task `index`.
  public func latest(_ index: Int) -> Reading { latest[index] }

  /// Stores a reading of task `index` and wakes its subscribers.
  public mutating func publish<S: Scheduler & ~Copyable>(
    _ index: Int, value: Double, at time: Instant, _ cx: inout Context<S>
  ) {
    latest[index] = Reading(value: value, time: time, sequence: latest[index].sequence + 1)
    listeners.wakeAll(index, &cx)
  }

  /// Asks to be woken at task `index`'s next reading. Returns false when every subscriber slot
  /// is taken (the config checks make that a programmer error).
  @discardableResult
  public mutating func subscribe<S: Scheduler & ~Copyable>(_ index: Int, _ cx: inout Context<S>) -> Bool {
    listeners.add(index, &cx)
  }
}

/// What a task has done, for the summary.
public struct TaskCounters: Equatable, Sendable {
  /// Records the task emitted.
  public var records: UInt64 = 0
  /// Records it could not emit because the output ring was full.
  public var dropped: UInt64 = 0
  /// Errors it met (read failures, line errors, ...).
  public var errors: UInt64 = 0
  /// Ticks it missed (periodic tasks).
  public var missedTicks: UInt64 = 0

  /// Zeroed counters.
  public init() {}
}

/// What the output fd refused: a write that failed (EPIPE when the reader went away, EIO, ENOSPC
/// on a full disk) discards every waiting record, so a dead output cannot stall the loop.
public struct OutputLoss: Equatable, Sendable {
  /// Records discarded (a record partly written before the failure counts as discarded).
  public var records: UInt64 = 0
  /// Bytes discarded.
  public var bytes: UInt64 = 0
  /// The last write error, 0 when none.
  public var lastErrno: Int32 = 0

  /// Nothing lost.
  public init() {}
}

/// What the program was asked to do by signals or by tasks.
public struct ControlRequests: Equatable, Sendable {
  /// Stop: flush the output, print the summary, exit.
  public var shutdown = false
  /// Print the summary, then go on.
  public var summary = false
  /// Re-read the config file and restart with it (SIGHUP).
  public var reload = false
  /// The signal that asked for the stop, if one did.
  public var signal: Int32 = 0

  /// Nothing requested.
  public init() {}
}

/// An input line as the summary reports it.
public struct InputSummary {
  /// The config's name of the line (empty when not set).
  public var name: ShortName
  /// Where the line was found.
  public var source: LineSource
  /// What it has seen.
  public var counters: LineCounters
  /// The uAPI its events come through.
  public var abi: KernelABI
  /// The events its kernel queue holds.
  public var kernelQueue: Int
  /// Its debounce window.
  public var debounce: Duration
  /// Whether the kernel debounces it.
  public var debouncedInKernel: Bool
  /// Whether it is a mock line.
  public var isSimulated: Bool
}

/// The firmware's shared state.
///
/// Its tables are filled by `InlineArray(first:next:)`, a loop, not `init(repeating:)` or
/// `init { _ in … }`: the compiler unrolls those into one store per element (32 per table, and
/// a 600-byte specialisation each for the names and the subscribers).
public struct FirmwareWorld: ~Copyable {
  /// Task names, by task index.
  public var names = InlineArray<32, ShortName>(first: ShortName()) { $0 }
  /// The config's line names (the keys of `lines`), by line index; empty when not set.
  public var lineNames = InlineArray<32, ShortName>(first: ShortName()) { $0 }
  /// Input lines, by line index.
  public var inputs: InlineArray<32, InputLine?>
  /// Output lines, by line index.
  public var outputs: InlineArray<32, OutputLine?>
  /// Finished records waiting for the writer.
  public var output = OutputRing<65_536>()
  /// Where records' `wall_ns` comes from: CLOCK_REALTIME, or a fixed offset from the
  /// platform's clock (a virtual-time test).
  public var wallClock = WallClock.system
  /// The output fd (not owned: stdout, or a file the program owns).
  public var outputFD: Int32
  /// Records the output fd refused, for the summary (the ring's own counters say "accepted").
  public var outputLoss = OutputLoss()
  /// The worker threads that do blocking file I/O off the loop (sampler reads, writes to a
  /// regular output file, the summary); nil runs sampler reads on the loop thread (tests on a
  /// virtual platform).
  package var worker: BlockingWorker? = nil
  /// Whether the output is a regular file, written through the worker (a write to an SD card
  /// may wait; epoll cannot say when a regular file has room).
  public var outputThroughWorker = false
  /// Output bytes handed to the worker's output slot, not yet confirmed written.
  public var outputInFlight = 0
  /// The summary being written by the `SummaryWriter` task (empty when none).
  public var summary = SummaryText()
  /// Whether the summary goes into the output ring (whole lines after the queued records)
  /// instead of to stderr: stderr is the output's file (`"to": "stderr"`, or `2>&1`), where
  /// a separate write could land inside a half-written record.
  public var summaryThroughOutput = false
  /// Summary requests not printed: the previous summary was still being written, or (summary
  /// through the output) the ring had no room for it.
  public var summariesSkipped: UInt64 = 0
  /// The latest reading of each task.
  public var readings = ReadingBoard()
  /// The latest level and press count of each binary source (a button), for switches.
  public var binary = BinaryBoard()
  /// The duty each pwm task is asked to run at, by a curve or a threshold.
  public var duties = DutyBoard()
  /// When each periodic task is next due to do its work (its next grid point; the watchdog
  /// checks these). A task is stalled when it is later than that by more than the stall time.
  public var due = InlineArray<32, Instant>(repeating: .zero)
  /// Per-task counters for the summary.
  public var counters = InlineArray<32, TaskCounters>(repeating: TaskCounters())
  /// Stop and summary requests.
  public var control = ControlRequests()
  /// The sensor tasks' state, too big for an executor slot (`SensorSlot` names an entry).
  public var sensors = InlineArray<8, SensorTask?>(first: nil) { _ in nil }
  /// The hardware PWM channels of the `pwm_hw` tasks (`HardwarePWMTask` names an entry).
  public var pwmChannels = InlineArray<4, PWMChannel?>(first: nil) { _ in nil }
  /// The task a watchdog task sees stalled, -1 while every watched task makes progress.
  public var stalledTask = -1
  /// Whether systemd has been told `READY=1`: the keepalive pings only after it (a slow startup
  /// must not send `WATCHDOG=1` first).
  public var systemdReady = false
  /// systemd's notification socket, when run as a `Type=notify` service.
  package var systemd: SystemdNotify? = nil
  /// Scripted stimuli for mock input lines (the simulated board); empty on a real board.
  public var stimuli = StimulusDriver<32, 256>()
  /// The interrupt of each stimulus port's line, raised after a delivery so the mock board
  /// also runs on a virtual platform that watches no fds.
  public var stimulusLines = InlineArray<32, Interrupt?>(first: nil) { $0 }
  /// The MQTT client every record is also published with (`mqtt` in board.json), if any.
  public var mqtt: MQTTLink? = nil

  /// A world writing records to `outputFD`, with no lines yet. Out of line: its tables are
  /// filled in its own small frame, not at two-instruction addresses in the startup's.
  @inline(never)
  public init(outputFD: Int32) {
    self.outputFD = outputFD
    inputs = InlineArray(first: nil) { _ in nil }
    outputs = InlineArray(first: nil) { _ in nil }
  }

  /// The logical level input line `index` had when it was requested, when known.
  public func initialLevel(ofInput index: Int) -> Bool? {
    switch inputs[index] {
    case .some(let line): return line.initialLevel
    case .none: return nil
    }
  }

  /// The kernel name and counters of input line `index`, if it is an input.
  public func inputCounters(_ index: Int) -> (name: GPIOName, counters: LineCounters)? {
    switch inputs[index] {
    case .some(let line): return (line.source.name, line.counters)
    case .none: return nil
    }
  }

  /// What the summary says of input line `index`, if it is an input.
  public func inputSummary(_ index: Int) -> InputSummary? {
    switch inputs[index] {
    case .some(let line):
      return InputSummary(
        name: lineNames[index], source: line.source, counters: line.counters, abi: line.abi,
        kernelQueue: line.kernelQueue, debounce: line.config.debounce,
        debouncedInKernel: line.debouncedInKernel,
        isSimulated: line.isSimulated)
    case .none: return nil
    }
  }

  /// Emits `record` for task `index`, counting it as written or dropped.
  @inline(never)
  public mutating func emit<S: Scheduler & ~Copyable>(
    _ record: borrowing RecordLine, task index: Int, _ cx: inout Context<S>
  ) {
    if output.emit(record, &cx) {
      counters[index].records += 1
    } else {
      counters[index].dropped += 1
    }
    if mqtt != nil { mqtt!.publish(record, task: names[index], &cx) }
  }

  /// A record stamped `time` (and `time` on the wall clock) for task `index`, to add fields to
  /// and emit.
  @inline(never)
  public func record(_ index: Int, at time: Instant) -> RecordLine {
    RecordLine(time: time, wall: wallClock.unixNanoseconds(at: time), task: names[index])
  }
}
