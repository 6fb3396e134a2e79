// W6 MQTT: 1,000 readings per second published to a local mosquitto at QoS 0 and at QoS 1.
// sensorloop: a `Ticker` task at 1 kHz publishing through LoopMQTT's `Client` (its own task on
// the epoll loop, non-blocking socket, QoS 1 window and PUBACK matching). C: the same readings
// written as hand-made PUBLISH packets to a plain non-blocking socket in a bare epoll loop, with
// its PUBACKs read and counted (`cb_w6_publish`). Reported: the loop thread's CPU time
// (getrusage user + system) per reading over the steady state, and the heap allocations there.
//
// The broker is Debian's mosquitto, started here on a free loopback port (log and persistence
// off) when `mosquitto` is on PATH or in /usr/sbin (where Debian puts it, which a user's PATH may
// lack); without it W6 prints one `# w6 skipped` line.

import AllocCounter
import CBaseline
import Glibc
import LoopCore
import LoopLinux
import LoopMQTT

/// The broker W6 publishes to: a mosquitto child process on a loopback port.
struct W6Broker {
  let pid: Int32
  let port: UInt16
  let directory: String

  /// Starts mosquitto, or says why it cannot (nil and a reason).
  static func start() -> (W6Broker?, String) {
    var candidates: [String] = []
    if let path = getenv("PATH") {
      for dir in String(cString: path).split(separator: ":") { candidates.append("\(dir)/mosquitto") }
    }
    candidates += ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
    guard let binary = candidates.first(where: { access($0, X_OK) == 0 }) else {
      return (nil, "mosquitto not found on PATH or in /usr/sbin (Debian: apt-get install mosquitto)")
    }
    let port = cb_free_port()
    guard port > 0 else { return (nil, "no free loopback port") }
    let directory = "/tmp/sensorloop-w6-\(getpid())"
    mkdir(directory, 0o700)
    let config = "\(directory)/mosquitto.conf"
    // As root, mosquitto would switch to the `mosquitto` user; nothing here needs that.
    let user = geteuid() == 0 ? "user root\n" : ""
    let text = "\(user)listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
    guard let file = fopen(config, "w") else { return (nil, "cannot write \(config)") }
    fputs(text, file)
    fclose(file)
    let pid = cb_broker_start(binary, config)
    guard pid > 0 else { return (nil, "cannot start \(binary)") }
    let broker = W6Broker(pid: pid, port: UInt16(port), directory: directory)
    for _ in 0..<500 {
      if cb_broker_ready(UInt16(port)) != 0 { return (broker, binary) }
      usleep(10_000)
    }
    broker.stop()
    return (nil, "\(binary) did not listen on port \(port) within 5 s")
  }

  /// Kills the broker and removes its directory.
  func stop() {
    cb_broker_stop(pid)
    unlink("\(directory)/mosquitto.conf")
    rmdir(directory)
  }
}

/// What the publishing task shares with the client's task.
struct W6World: ~Copyable {
  var client: Client
  let qos: UInt8
  /// Grid deadlines to run through.
  let deadlines: Int64
  /// The reading from which the steady state is measured.
  let warm: Int64
  /// The payload being written (room for 24 bytes, made at setup).
  let payload: UnsafeMutablePointer<UInt8>
  var published: Int64 = 0
  var dropped: Int64 = 0
  var missed: Int64 = 0
  var cpuAtWarm: Int64 = 0
  var allocsAtWarm: UInt64 = 0
  var publishedAtWarm: Int64 = 0
  var cpuAtEnd: Int64 = 0
  var allocsAtEnd: UInt64 = 0
}

/// W6's tasks: the client, and the 1 kHz publisher.
enum W6Task: TaskBody {
  /// Runs the client's connection (`Client.poll`).
  case client
  /// Waits until the client is connected, checking every millisecond.
  case waitForConnection
  /// Publishes one reading per tick.
  case publishing(Ticker)
  /// Waits (QoS 1) until every reading is acknowledged, at most until `giveUp`.
  case draining(giveUp: Instant)

  static var topic: UnsafeRawBufferPointer { UnsafeRawBufferPointer("sensorloop/bench/w6") }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout W6World) -> Poll<Void> {
    switch self {
    case .client:
      return world.client.poll(&cx)
    case .waitForConnection:
      if world.client.phase != .connected {
        try! cx.wake(at: cx.now + .milliseconds(1))
        return .pending
      }
      self = .publishing(Ticker(period: .milliseconds(1), first: cx.now + .milliseconds(1)))
      return poll(&cx, &world)
    case .publishing(var ticker):
      while case .ready = try! ticker.poll(&cx) {
        let length = cb_w6_payload(world.payload, world.published)
        let outcome = world.client.publish(
          &cx, topic: W6Task.topic, payload: UnsafeRawBufferPointer(start: world.payload, count: length),
          qos: world.qos)
        if outcome == .accepted { world.published += 1 } else { world.dropped += 1 }
        if world.published + world.dropped == world.warm {
          world.cpuAtWarm = cb_thread_cpu_ns()
          world.allocsAtWarm = sl_alloc_count_thread()
          world.publishedAtWarm = world.published
        }
        if Int64(ticker.delivered + ticker.missed) >= world.deadlines {
          world.missed = Int64(ticker.missed)
          self = .draining(giveUp: cx.now + .seconds(2))
          return poll(&cx, &world)
        }
      }
      self = .publishing(ticker)
      return .pending
    case .draining(let giveUp):
      let c = world.client.counters
      let done = world.qos == 0 ? world.client.pendingSendBytes == 0 : c.acknowledged >= c.publishedQoS1
      if done || cx.now >= giveUp {
        world.cpuAtEnd = cb_thread_cpu_ns()
        world.allocsAtEnd = sl_alloc_count_thread()
        cx.stopExecutor()
        return .ready(())
      }
      try! cx.wake(at: cx.now + .milliseconds(1))
      return .pending
    }
  }
}

/// What one W6 segment measured, for either side.
struct W6Segment {
  var readings: Int64 = 0
  var steadyReadings: Int64 = 0
  var cpu: Int64 = 0
  var acked: Int64 = 0
  var missed: Int64 = 0
  var dropped: Int64 = 0
  var allocs: Int64 = 0

  mutating func pool(_ o: W6Segment) {
    readings += o.readings
    steadyReadings += o.steadyReadings
    cpu += o.cpu
    acked += o.acked
    missed += o.missed
    dropped += o.dropped
    allocs += o.allocs
  }
}

/// One W6 segment for C.
func w6SegmentC(port: UInt16, qos: UInt8, deadlines: Int64, warm: Int64) -> W6Segment {
  var result = cb_mqtt_result()
  let before = sl_alloc_count_thread()
  let status = cb_w6_publish(port, Int32(qos), "sensorloop/bench/w6", 1_000_000, deadlines, warm, &result)
  let allocs = sl_alloc_count_thread() - before
  precondition(status == 0, "cb_w6_publish failed: errno \(errno)")
  return W6Segment(
    readings: result.readings, steadyReadings: result.steady_readings, cpu: result.cpu_ns,
    acked: result.acked,
    missed: result.missed, allocs: Int64(allocs))
}

/// One W6 segment for sensorloop.
func w6SegmentSensorloop(port: UInt16, qos: UInt8, deadlines: Int64, warm: Int64) -> W6Segment {
  var options = ClientOptions(
    address: SocketAddress.parse("127.0.0.1", port: port)!, clientID: UnsafeRawBufferPointer("w6-sl"))
  options.keepAliveSeconds = 60
  options.inflightWindow = 32
  options.reconnectMin = .milliseconds(50)
  options.reconnectMax = .milliseconds(200)
  let client = try! Client(options, line: Interrupt(0))
  var platform = try! EpollPlatform()
  try! platform.watch(client.readinessDescriptor, as: Interrupt(0), for: .readable)
  var executor = Executor<4, 4, W6Task, EpollPlatform>(platform: platform)
  try! executor.spawn(.client)
  try! executor.spawn(.waitForConnection)
  let payload = UnsafeMutablePointer<UInt8>.allocate(capacity: 24)
  defer { payload.deallocate() }
  var world = W6World(client: client, qos: qos, deadlines: deadlines, warm: warm, payload: payload)
  _ = executor.run(&world)
  let c = world.client.counters
  world.client.stop(now: monotonicNow())
  return W6Segment(
    readings: world.published, steadyReadings: world.published - world.publishedAtWarm,
    cpu: world.cpuAtEnd - world.cpuAtWarm, acked: Int64(c.acknowledged), missed: world.missed,
    dropped: world.dropped, allocs: Int64(world.allocsAtEnd &- world.allocsAtWarm))
}

/// The W6 lines: for QoS 0 and 1, C and sensorloop in ABBA order (two segments each of
/// `readings / 2` grid deadlines at 1 kHz), pooled. Nil, with the reason printed, when there is no
/// broker.
func runW6(readings: Int64) -> [ResultLine] {
  // The broker inherits the starting thread's CPUs: it runs where the helper threads do (the
  // first CPU), not on the measuring loop's.
  _ = cb_pin_thread(cb_helper_cpu())
  let (started, note) = W6Broker.start()
  pinForMeasuring()
  guard let broker = started else {
    print("# w6 skipped: \(note)")
    return []
  }
  defer { broker.stop() }
  let each = readings / 2
  let warm = min(100, each / 10)
  var lines: [ResultLine] = []
  for qos: UInt8 in [0, 1] {
    var c = W6Segment()
    var ours = W6Segment()
    for cFirst in [true, false, false, true] {
      if cFirst {
        c.pool(w6SegmentC(port: broker.port, qos: qos, deadlines: each, warm: warm))
      } else {
        ours.pool(w6SegmentSensorloop(port: broker.port, qos: qos, deadlines: each, warm: warm))
      }
    }
    lines.append(w6Line(qos, "c", c))
    lines.append(w6Line(qos, "sensorloop", ours))
  }
  return lines
}

/// A W6 result line.
func w6Line(_ qos: UInt8, _ impl: String, _ s: W6Segment) -> ResultLine {
  var line = ResultLine(workload: "w6-qos\(qos)", impl: impl)
  line.add(
    "cpu_us_per_reading", s.steadyReadings > 0 ? Double(s.cpu) / Double(s.steadyReadings) / 1000 : 0,
    decimals: 2)
  line.add("readings", count: s.readings)
  if qos == 1 { line.add("acked", count: s.acked) }
  line.add("missed", count: s.missed)
  line.add("dropped", count: s.dropped)
  line.add("allocs", count: s.allocs)
  return line
}
