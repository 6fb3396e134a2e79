// The allocation proof of the firmware's loop, never run: `cross/build aarch64 --no-allocations`
// builds this module with `-no-allocations`. Embedded Swift compiles generic code only where it is
// specialised, so the compiler checks a task's poll only through a concrete executor: this file
// is that executor, the firmware over the epoll platform driven as `sensorloop` drives it once
// started, in non-generic code. `FirmwareTask.poll` switches over every task, configured and
// system, so all of them are compiled (and checked) here without being named: a new task kind is
// covered with no change to this file. CI checks the proof can fail: built with
// `-D PROOF_NEGATIVE`, which makes a task's poll store an escaping closure, it must be rejected
// (cross/build). Unused, it is in no product.
// EmbeddedProof.swift beside it proves LoopGPIO as a program without the task library uses it.

import LoopCore
import LoopGPIO
import LoopLinux
import LoopMQTT
import LoopTasks

/// Startup's GPIO requests through the board's one `GPIOSystem` (libgpiod or the simulated
/// board), the simulated board's stimulus port, and the line's fd watched by the platform.
package func proveLines(
  _ gpio: inout BoardGPIO, _ world: inout FirmwareWorld, _ platform: inout EpollPlatform,
  _ chip: ChipSelector, input: LineSelector, output: LineSelector, at start: Instant
) throws(GPIOError) {
  try gpio.prepare()
  let line = try gpio.requestInput(input, on: chip, InputConfig(interrupt: FirmwareInterrupt.line(0)))
  if let port = gpio.mock.takePort(for: line), let index = try? world.stimuli.add(port) {
    _ = try? world.stimuli.schedule(
      .pulses(port: index, start: start, hertz: 1000, dutyPercent: 50, count: 10))
  }
  _ = try? platform.watch(line: line)
  world.inputs[0] = .some(line)
  world.outputs[1] = .some(try gpio.requestOutput(output, on: chip, OutputConfig(), at: start))
}

/// Startup's MQTT link (the client's one mapping, its command subscription, the discovery
/// configs' mapping) put in the world with its readiness fd watched, as `sensorloop` makes it
/// for an `mqtt` section; the `MQTTTask` that drives it is one of `FirmwareTask`'s cases, and
/// `FirmwareWorld.emit` publishes every record through it, so both are checked below with the
/// rest of the loop. Its strings are the caller's (LoopConfig builds them at startup).
package func proveMQTT(
  _ world: inout FirmwareWorld, _ platform: inout EpollPlatform, options: ClientOptions,
  filter: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer
) throws(Errno) {
  var client = try Client(options, line: FirmwareInterrupt.mqtt)
  try client.subscribe(filter)
  var discovery = try RetainedSet(capacity: 4096)
  _ = discovery.add(topic: topic, payload: payload)
  var link = MQTTLink(
    client: client, prefix: FixedText<64>("sensorloop/proof"), qos: 1,
    sendBufferBytes: options.sendBufferBytes,
    discovery: discovery)
  link.commandable[1] = true
  try platform.watch(link.client.readinessDescriptor, as: FirmwareInterrupt.mqtt, for: .readable)
  world.mqtt = consume link
}

/// The firmware's run: the first polls, the loop until a stop (summaries on request), then
/// the flush and the final summary, as `sensorloop` runs them after startup.
public func proveFirmware(
  platform: consuming EpollPlatform, world: consuming FirmwareWorld, start: Instant, task: FirmwareTask
) -> Bool {
  var firmware = Firmware(platform: platform, world: world, start: start)
  do { try firmware.spawn(task) } catch { return false }
  // The MQTT task beside it (a system task: `sensorloop` spawns it for an `mqtt` section).
  do { try firmware.spawn(.mqtt(MQTTTask())) } catch { return false }
  _ = firmware.executor.runUntilStalled(&firmware.world)
  var requests = firmware.takeRequests()
  _ = firmware.world.notifySystemd(watchdog: false)
  while !requests.shutdown {
    if requests.summary {
      firmware.requestSummary(
        now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
    }
    if let writer = firmware.world.output.takeWriter() { firmware.executor.wake(writer) }
    requests = firmware.runUntilRequest()
  }
  firmware.world.notifySystemdStopping()
  if firmware.world.mqtt != nil { firmware.world.mqtt!.client.stop(now: firmware.executor.platform.now()) }
  _ = firmware.flushOutput()
  var text = SummaryText()
  firmware.renderFinalSummary(
    into: &text, now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
  _ = firmware.world.output.append(text: text)
  firmware.writeSummary(to: 2, now: firmware.executor.platform.now())
  return true
}
