// A compile-time proof, never called: Embedded Swift compiles generic code only where it is
// specialised, so `-no-allocations` checks `InputLine.poll`, `StimulusDriver` and the startup
// search only through a concrete use. This function is that use for LoopGPIO on its own, as
// an example program drives it (startup on the mock and libgpiod systems each, the event path
// under the epoll platform, outputs), in non-generic code; FirmwareProof.swift is the
// firmware's. It lived in LoopGPIO, as an internal function: unused, the optimiser removed it
// before `-no-allocations` looked (an escaping closure put in it was not rejected; tried on 2
// December 2026). Public, it is kept and checked; it is built only by the proof.

import LoopCore
import LoopGPIO
import LoopLinux

/// The proof's shared state: one input, one output, a stimulus driver.
struct ProofWorld: ~Copyable {
  var input: InputLine?
  var output: OutputLine?
  var driver = StimulusDriver<2, 2>()
  var edges = 0
}

/// The proof's tasks: a reader of edges that drives the output, and the stimulus driver.
enum ProofTask: TaskBody {
  typealias World = ProofWorld

  case reader
  case driver
  /// Spawns the driver from a task and waits for it to finish (`cx.spawn`, `cx.join`).
  case starter(Waker?)

  mutating func poll<S: Scheduler<Self> & ~Copyable>(_ cx: inout Context<S>, _ world: inout ProofWorld)
    -> Poll<Void>
  {
    switch self {
    case .reader:
      while case .ready(let event)? = try? world.input!.poll(&cx) {
        world.edges += 1
        _ = try? world.output!.set(event.edge == .rising, at: event.timestamp)
      }
      world.input!.settle(at: cx.now)
      return .pending
    case .driver:
      return (try? world.driver.poll(&cx)) ?? .ready(())
    case .starter(let spawned):
      guard let driver = spawned ?? (try? cx.spawn(.driver)) else { return .ready(()) }
      self = .starter(driver)
      return cx.join(driver)
    }
  }
}

/// Startup through both systems and a run of the event path; returns the edges taken.
public func embeddedProof() -> Int {
  var mock = SimulatedGPIO()
  mock.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)
  let chip = ChipSelector.label(GPIOName("pinctrl-bcm2711"))
  var world = ProofWorld()
  guard
    let input = try? mock.requestInput(
      LineSelector("GPIO17", or: "SDA1"), on: chip,
      InputConfig(interrupt: Interrupt(8), edges: .both, debounce: .milliseconds(5))),
    let port = mock.takePort(for: input),
    let output = try? mock.requestOutput(LineSelector("GPIO18"), on: chip, OutputConfig(), at: .zero),
    let index = try? world.driver.add(port)
  else { return -1 }
  _ = try? world.driver.schedule(.pulses(port: index, start: .zero, hertz: 1000, dutyPercent: 50, count: 10))
  guard var platform = try? EpollPlatform(), (try? platform.watch(line: input)) != nil else { return -1 }
  world.input = .some(input)
  world.output = .some(output)
  var executor = Executor<3, 2, ProofTask, EpollPlatform>(platform: platform)
  _ = try? executor.spawn(.reader)
  _ = try? executor.spawn(.starter(nil))
  _ = executor.run(&world)

  var real = LibgpiodSystem()
  if let line = try? real.requestInput(LineSelector("GPIO27"), on: chip, InputConfig(interrupt: Interrupt(9)))
  {
    _ = line.eventFD
  }
  if let error = failure(&real, .path(GPIOName("/dev/gpiochip0"))) { _ = error.withMessage { $0.count } }
  return world.edges
}

private func failure(_ system: inout LibgpiodSystem, _ chip: ChipSelector) -> GPIOError? {
  do {
    _ = try system.openChip(chip)
    return nil
  } catch {
    return error
  }
}
