// From config values to running GPIO: lines requested on the real chip or the mock board (the
// same request and event path either way, with the config's own LoopGPIO settings), and the
// simulated board's stimuli (scripted by LoopConfig's SimScripts.swift) on the mock ports.

import CLinux
import LoopConfig
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

extension Board {
  /// Requests every configured line and watches each input's event fd. On the mock board the
  /// stimuli get the lines' ports.
  static func wireGPIO(
    _ config: BoardConfig, _ world: inout FirmwareWorld, _ platform: inout EpollPlatform, start now: Instant
  ) throws(StartupError) {
    var gpio = BoardGPIO(simulated: config.simulated)
    // The simulated chip emulates today's kernel uAPI (v2 records, sized queues, sequence
    // numbers); its lines are debounced in software (the mock kernel does not debounce).
    gpio.mock.abi = .v2
    if config.simulated {
      let index = gpio.mock.addChip(
        name: BoardConfig.simulatedChipName, label: "sensorloop-sim", lines: config.lines.count)
      for i in config.lines.indices {
        // The mock chip's line i carries the config's first spelling of line i.
        if config.lines[i].names.count > 0 {
          gpio.mock.nameLine(chip: index, offset: i, GPIOName(config.lines[i].names[0]))
        }
      }
    }
    // One catch: one copy of the code that drops the GPIO system on a failure.
    do {
      try requestLines(&gpio, config.chip, config, &world, &platform, now)
      if gpio.simulated { try scheduleStimuli(config, &gpio.mock, &world, start: now) }
    } catch { throw error }
  }

  static func requestLines(
    _ gpio: inout BoardGPIO, _ chip: ChipSelector, _ config: BoardConfig,
    _ world: inout FirmwareWorld,
    _ platform: inout EpollPlatform, _ now: Instant
  ) throws(StartupError) {
    let consumer = GPIOName(config.consumer)
    for i in config.lines.indices {
      let line = config.lines[i]
      world.lineNames[i] = ShortName(line.id)
      let selector = line.selector
      // The requests write a failure into `failure` rather than throw it: a `GPIOError` (1 KB)
      // is copied at each place it is thrown or caught.
      var failure = GPIOError(.system)
      let input = line.direction == .input
      let source: LineSource
      if input {
        guard
          let requested = gpio.requestInput(
            selector, on: chip, config.inputConfig(ofLine: i), consumer: consumer, failure: &failure)
        else { throw lineError(line.id, failure) }
        source = requested.source
        world.inputs[i] = .some(requested)
      } else {
        guard
          let requested = gpio.requestOutput(
            selector, on: chip, line.outputConfig, at: now, consumer: consumer, failure: &failure)
        else { throw lineError(line.id, failure) }
        source = requested.source
        world.outputs[i] = .some(requested)
      }
      if source.matched < 0 { sayFoundByOffset(line, source) }
      guard input else { continue }
      do { try platform.watch(line: world.inputs[i]!) } catch {
        // `failure` is still the fresh `GPIOError(.system)`: the request succeeded.
        failure.errno = error
        failure.message.append("cannot watch the line's event fd")
        throw lineError(line.id, failure)
      }
    }
  }

  /// `sensorloop: line "<id>": <the GPIO error's message>`.
  @inline(never)
  static func lineError(_ id: Name, _ error: borrowing GPIOError) -> StartupError {
    var e = StartupError("sensorloop: line \"")
    e.add(id)
    e.add("\": ")
    error.withMessage { e.message.append(contentsOf: $0) }
    return e
  }

  /// Says on stderr that no name matched and the line was taken by its offset, so the user
  /// knows which line the program holds (a mainline kernel's Pi 5 names none of its lines).
  @inline(never)
  static func sayFoundByOffset(_ line: LineConfig, _ source: LineSource) {
    var e = StartupError("sensorloop: line \"")
    e.add(line.id)
    e.add("\": ")
    if line.names.count > 0 {
      e.add("no line named \"")
      e.add(line.names[0])
      e.add("\"")
      if line.names.count > 1 { e.add(" (nor its aliases)") }
      e.add(" on ")
    } else {
      e.add("on ")
    }
    e.add(source.chipName)
    e.add(" [")
    e.add(source.chipLabel)
    e.add("]; using offset ")
    var number = FixedText<12>()
    number.append(decimal: source.offset)
    e.add(number)
    if source.name.isEmpty {
      e.add(" (unnamed)")
    } else {
      e.add(" (named \"")
      e.add(source.name)
      e.add("\")")
    }
    writeLine(2, "", e.message)
  }

  /// Turns the config's logical stimuli into physical level scripts on the mock ports.
  static func scheduleStimuli(
    _ config: BoardConfig, _ gpio: inout SimulatedGPIO, _ world: inout FirmwareWorld, start: Instant
  ) throws(StartupError) {
    var port = InlineArray<32, Int>(repeating: -1)
    var activeLow: UInt64 = 0
    for i in config.lines.indices {
      let line = config.lines[i]
      if line.activeLow { activeLow |= 1 << UInt64(i) }
      guard line.direction == .input, let taken = gpio.takePort(for: world.inputs[i]!) else { continue }
      do {
        port[i] = try world.stimuli.add(taken)
        world.stimulusLines[port[i]] = FirmwareInterrupt.line(i)
      } catch {
        throw StartupError("sensorloop: sim: too many input lines")
      }
    }
    for s in 0..<config.stimuli.count {
      let stimulus = config.stimuli[s]
      for k in 0..<stimulus.scriptCount {
        do {
          try world.stimuli.schedule(stimulus.script(k, ports: port, activeLow: activeLow, start: start))
        } catch {
          throw StartupError("sensorloop: sim: too many stimuli (a press expands to two scripts per press)")
        }
      }
    }
  }
}
