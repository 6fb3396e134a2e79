// The firmware task library: each configured task is one case of `FirmwareTask`, a plain value
// in an executor slot whose poll is a `switch`: static dispatch, no existentials, no heap.
// The system tasks (output writer, signal handler, stop timer) are cases too.

import LoopCore
import LoopGPIO
import LoopLinux

/// Every task the firmware can run.
public enum FirmwareTask: TaskBody {
  public typealias World = FirmwareWorld

  case heartbeat(Heartbeat)
  case button(Button)
  case pulseCounter(PulseCounter)
  case sampler(Sampler)
  case encoder(Encoder)
  case threshold(ThresholdSwitch)
  case watchdog(Watchdog)
  case ticker(TickerTask)
  case pwm(SoftwarePWM)
  case sensor(SensorSlot)
  case pwmHardware(HardwarePWMTask)
  case outputSwitch(OutputSwitch)
  case curve(CurveRule)
  case writer(OutputWriter)
  case signals(SignalHandler)
  case stopTimer(StopTimer)
  case stimuli(StimulusTask)
  case simFile(SimFileWriter)
  case systemd(SystemdKeepalive)
  case worker(WorkerDispatch)
  case summary(SummaryWriter)
  case mqtt(MQTTTask)

  public mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    switch self {
    case .heartbeat(var task):
      defer { self = .heartbeat(task) }
      return task.poll(&cx, &world)
    case .button(var task):
      defer { self = .button(task) }
      return task.poll(&cx, &world)
    case .pulseCounter(var task):
      defer { self = .pulseCounter(task) }
      return task.poll(&cx, &world)
    case .sampler(var task):
      defer { self = .sampler(task) }
      return task.poll(&cx, &world)
    case .encoder(var task):
      defer { self = .encoder(task) }
      return task.poll(&cx, &world)
    case .threshold(var task):
      defer { self = .threshold(task) }
      return task.poll(&cx, &world)
    case .watchdog(var task):
      defer { self = .watchdog(task) }
      return task.poll(&cx, &world)
    case .ticker(var task):
      defer { self = .ticker(task) }
      return task.poll(&cx, &world)
    case .pwm(var task):
      defer { self = .pwm(task) }
      return task.poll(&cx, &world)
    case .sensor(let task):
      return task.poll(&cx, &world)
    case .pwmHardware(var task):
      defer { self = .pwmHardware(task) }
      return task.poll(&cx, &world)
    case .outputSwitch(var task):
      defer { self = .outputSwitch(task) }
      return task.poll(&cx, &world)
    case .curve(var task):
      defer { self = .curve(task) }
      return task.poll(&cx, &world)
    case .writer(var task):
      defer { self = .writer(task) }
      return task.poll(&cx, &world)
    case .signals(var task):
      defer { self = .signals(task) }
      return task.poll(&cx, &world)
    case .stopTimer(var task):
      defer { self = .stopTimer(task) }
      return task.poll(&cx, &world)
    case .stimuli(var task):
      defer { self = .stimuli(task) }
      return task.poll(&cx, &world)
    case .simFile(var task):
      defer { self = .simFile(task) }
      return task.poll(&cx, &world)
    case .systemd(var task):
      defer { self = .systemd(task) }
      return task.poll(&cx, &world)
    case .worker(var task):
      defer { self = .worker(task) }
      return task.poll(&cx, &world)
    case .summary(var task):
      defer { self = .summary(task) }
      return task.poll(&cx, &world)
    case .mqtt(var task):
      defer { self = .mqtt(task) }
      return task.poll(&cx, &world)
    }
  }

  /// The configured task's index, or nil for a system task.
  public var taskIndex: Int? {
    switch self {
    case .heartbeat(let t): t.index
    case .button(let t): t.index
    case .pulseCounter(let t): t.index
    case .sampler(let t): t.index
    case .encoder(let t): t.index
    case .threshold(let t): t.index
    case .watchdog(let t): t.index
    case .ticker(let t): t.index
    case .pwm(let t): t.index
    case .sensor(let t): t.index
    case .pwmHardware(let t): t.index
    case .outputSwitch(let t): t.index
    case .curve(let t): t.index
    case .writer, .signals, .stopTimer, .stimuli, .simFile, .systemd, .worker, .summary, .mqtt: nil
    }
  }

  /// The kind as it appears in board.json.
  public var kind: StaticString {
    switch self {
    case .heartbeat: "heartbeat"
    case .button: "button"
    case .pulseCounter: "pulse_counter"
    case .sampler: "sampler"
    case .encoder: "encoder"
    case .threshold: "threshold"
    case .watchdog: "watchdog"
    case .ticker: "ticker"
    case .pwm: "pwm"
    case .sensor: "sensor"
    case .pwmHardware: "pwm_hw"
    case .outputSwitch: "switch"
    case .curve: "curve"
    case .writer: "output"
    case .signals: "signals"
    case .stopTimer: "duration"
    case .stimuli: "sim_stimuli"
    case .simFile: "sim_file"
    case .systemd: "systemd"
    case .worker: "worker"
    case .summary: "summary"
    case .mqtt: "mqtt"
    }
  }
}

extension FirmwareWorld {
  /// Says when periodic task `index` is next due to do its work (its ticker's next grid point),
  /// for the watchdog: the task counts as stalled once it is later than that by the stall time.
  mutating func markProgress(_ index: Int, due time: Instant) { due[index] = time }
}

/// Polls a ticker, counting capacity errors as task errors (the config checks make them a bug).
func nextTick<S: Scheduler & ~Copyable>(
  _ ticker: inout Ticker, _ cx: inout Context<S>, _ counters: inout TaskCounters
) -> Tick? {
  do {
    if case .ready(let tick) = try ticker.poll(&cx) { return tick }
  } catch {
    counters.errors += 1
  }
  return nil
}

// MARK: - Outputs

/// Blinks an output line in a repeating on/off pattern (a heartbeat LED).
public struct Heartbeat: Sendable {
  /// The task index.
  public let index: Int
  /// The output line index.
  public let line: Int
  var pattern: BlinkPattern
  var driven: Bool?

  /// A heartbeat on `line` with `pattern`, started at its first step.
  public init(index: Int, line: Int, pattern: BlinkPattern) {
    self.index = index
    self.line = line
    self.pattern = pattern
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let now = cx.now
    #if PROOF_NEGATIVE
      // The allocation proof's negative check (cross/build aarch64 --no-allocations).
      proofNegativeClosure = { now }
    #endif
    _ = pattern.advance(now: now)
    if driven != pattern.isOn {
      drive(&world.outputs[line]!, pattern.isOn, at: now, &world.counters[index])
      driven = pattern.isOn
    }
    world.markProgress(index, due: pattern.next)
    do { try cx.wake(at: pattern.next) } catch { world.counters[index].errors += 1 }
    return .pending
  }
}

/// Sets an output, counting a failure as a task error.
func drive(_ line: inout OutputLine, _ value: Bool, at time: Instant, _ counters: inout TaskCounters) {
  do { try line.set(value, at: time) } catch { counters.errors += 1 }
}

/// Software PWM on an output line: on for `duty` of every `period`, on a fixed grid.
public struct SoftwarePWM: Sendable {
  /// The task index.
  public let index: Int
  /// The output line index.
  public let line: Int
  var onTime: Duration
  var ticker: Ticker
  var offAt: Instant?

  /// PWM with `period` and `dutyPercent` (0–100) starting at `start`.
  public init(index: Int, line: Int, period: Duration, dutyPercent: Int, start: Instant) {
    self.index = index
    self.line = line
    onTime = Duration(nanoseconds: period.nanoseconds / 100 * Int64(dutyPercent))
    ticker = Ticker(period: period, first: start, policy: .skip)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // A duty set by a rule (a curve, a threshold) applies from the next period.
    if let duty = world.duties.take(index) {
      onTime = Duration(nanoseconds: Int64((Double(ticker.period.nanoseconds) * duty / 100).rounded()))
    }
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, due: ticker.next)
      if onTime > .zero {
        drive(&world.outputs[line]!, true, at: cx.now, &world.counters[index])
        offAt = tick.scheduled + onTime
      } else if world.outputValue(line) {
        // Down to 0 % from a full duty, which kept the line on across periods.
        drive(&world.outputs[line]!, false, at: cx.now, &world.counters[index])
      }
    }
    if let off = offAt {
      if cx.now >= off || off >= ticker.next {
        // Full duty keeps the line on across periods.
        if off < ticker.next { drive(&world.outputs[line]!, false, at: cx.now, &world.counters[index]) }
        offAt = nil
      } else {
        do { try cx.wake(at: off) } catch { world.counters[index].errors += 1 }
      }
    }
    return .pending
  }
}

/// Emits a tick record on a fixed grid.
public struct TickerTask: Sendable {
  /// The task index.
  public let index: Int
  var ticker: Ticker

  /// Ticks every `period` from `start + period`.
  public init(index: Int, period: Duration, start: Instant) {
    self.index = index
    ticker = Ticker(period: period, first: start + period, policy: .skip)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, due: ticker.next)
      var record = world.record(index, at: tick.scheduled)
      record.field("event", "tick")
      record.field("n", integer: Int64(ticker.delivered))
      record.field("late_ns", integer: tick.lateness.nanoseconds)
      record.finish()
      world.emit(record, task: index, &cx)
    }
    return .pending
  }
}
