// The client against a real mosquitto 2.0 (Debian's package): what mosquitto_sub sees (topics,
// payloads, retain flags, QoS), commands from mosquitto_pub, and faults: no broker at start, a
// broker killed and restarted mid-run, a connection lost (the will), wrong credentials; and the
// steady state's allocations (none). Each test starts its own broker on a free loopback port and
// a Unix socket in a temporary directory. Serialized: each runs a real-time loop, and several at
// once on a 2-core machine would only make them slower.
//
// Cost (measured on the 2-core development host, debug build): about 6 s for the suite, most of
// it the keepalive wait (1.1 s), the restart test and the credentials backoff (1.5 s).

import AllocCounter
import Foundation
import HostTestSupport
import LoopCore
import LoopLinux
import LoopMQTT
import Testing

@Suite(.serialized) struct MosquittoTests {
  /// Publishes at QoS 0 and 1, retained and not; availability online (retained) on connect,
  /// offline (the will) when the connection is lost, online again after the reconnect;
  /// commands from mosquitto_pub arrive; PINGREQ keeps an idle connection alive.
  @Test func publishSubscribeAvailabilityAndKeepalive() throws {
    let broker = try Broker()
    try broker.start()
    let client = try makeClient(
      tcp(broker), id: "sl-t1", availability: "sl/t1/availability", subscriptions: ["sl/t1/cmd/#"],
      keepAlive: 1)
    var loop = try Loop(client)
    #expect(loop.run { $0.client.phase == .connected && $0.client.counters.subscribed == 1 })

    let all = try broker.subscriber("watch-t1", topic: "sl/t1/#", count: 4)
    #expect(loop.publish("sl/t1/a", "x0", qos: 0) == .accepted)
    #expect(loop.publish("sl/t1/b", "y1", qos: 1, retain: true) == .accepted)
    #expect(loop.run { $0.client.counters.acknowledged == 1 })
    try broker.publish("sl/t1/cmd/led", "on", qos: 1)
    #expect(loop.run { $0.messages.count == 1 })
    // Live delivery: mosquitto clears the retain flag; QoS is the lower of publish and subscription.
    // The availability topic's retained online first (retain flag set: it was there before).
    #expect(
      all.lines() == [
        "sl/t1/availability|online|1|0", "sl/t1/a|x0|0|0", "sl/t1/b|y1|0|1", "sl/t1/cmd/led|on|0|1",
      ])
    #expect(loop.world.messages == ["sl/t1/cmd/led|on|0|1"])
    #expect(try broker.retained("sl/t1/b") == "sl/t1/b|y1|1|1")
    #expect(try broker.retained("sl/t1/availability") == "sl/t1/availability|online|1|0")

    // Idle: the client pings within the 1 s keepalive and the broker answers.
    loop.run(milliseconds: 1_100)
    #expect(loop.world.client.counters.pingsSent >= 1)
    #expect(loop.run { $0.client.counters.pingResponses >= 1 })
    #expect(loop.world.client.phase == .connected)

    // The connection lost without DISCONNECT: the broker publishes the will (offline), the
    // client reconnects after its backoff and says online again.
    let availability = try broker.subscriber("watch-av", topic: "sl/t1/availability", count: 3)
    loop.world.client.dropConnection(now: monotonicNow())
    #expect(loop.run { $0.client.counters.connections == 2 })
    #expect(
      availability.lines() == [
        "sl/t1/availability|online|1|0", "sl/t1/availability|offline|0|1", "sl/t1/availability|online|0|0",
      ])
    #expect(try broker.retained("sl/t1/availability") == "sl/t1/availability|online|1|0")
    // A command after the reconnect arrives too (the subscription was renewed).
    try broker.publish("sl/t1/cmd/led", "off", qos: 0)
    #expect(loop.run { $0.messages.count == 2 })
    #expect(loop.world.messages.last == "sl/t1/cmd/led|off|0|0")
    let c = loop.world.client.counters
    #expect(c.protocolErrors == 0 && c.droppedSendBufferFull == 0 && c.droppedInboxFull == 0)

    // A clean stop: offline, retained, and no will.
    loop.world.client.stop(now: monotonicNow())
    #expect(loop.world.client.phase == .stopped)
    try broker.waitForLog("Received DISCONNECT from sl-t1")
    #expect(try broker.retained("sl/t1/availability") == "sl/t1/availability|offline|1|0")
  }

  /// The same over the broker's Unix socket; a command longer than the receive buffer is
  /// skipped whole and counted, and the next one arrives.
  @Test func unixSocket() throws {
    let broker = try Broker()
    try broker.start()
    let address = try #require(Array(broker.socketPath.utf8).withUnsafeBytes { SocketAddress.unix(path: $0) })
    var loop = try Loop(
      try makeClient(address, id: "sl-unix", subscriptions: ["sl/unix/cmd"]) { $0.receiveBufferBytes = 256 })
    #expect(loop.run { $0.client.phase == .connected && $0.client.counters.subscribed == 1 })
    let sub = try broker.subscriber("watch-unix", topic: "sl/unix/data", count: 2)
    #expect(loop.publish("sl/unix/data", "1", qos: 1) == .accepted)
    #expect(loop.publish("sl/unix/data", "2", qos: 0) == .accepted)
    #expect(loop.run { $0.client.counters.acknowledged == 1 && $0.client.pendingSendBytes == 0 })
    try broker.publish("sl/unix/cmd", "go", qos: 1)
    #expect(loop.run { $0.messages.count == 1 })
    #expect(sub.lines() == ["sl/unix/data|1|0|1", "sl/unix/data|2|0|0"])
    #expect(loop.world.messages == ["sl/unix/cmd|go|0|1"])
    try broker.publish("sl/unix/cmd", String(repeating: "z", count: 1_000), qos: 1)
    try broker.publish("sl/unix/cmd", "after", qos: 1)
    #expect(loop.run { $0.messages.count == 2 })
    #expect(loop.world.messages.last == "sl/unix/cmd|after|0|1")
    #expect(loop.world.client.counters.droppedReceiveTooLarge == 1)
    #expect(loop.world.client.counters.received == 3)
    #expect(loop.world.client.phase == .connected)
  }

  /// No broker at startup: connects fail (counted) and are retried with a capped backoff while
  /// the loop keeps running; once a broker listens, the client connects.
  @Test func noBrokerAtStart() throws {
    let broker = try Broker()  // configured, not started: nothing listens on its port
    var loop = try Loop(try makeClient(tcp(broker), id: "sl-late"))
    loop.run(milliseconds: 20)
    loop.resetLateness()
    loop.run(milliseconds: 600)
    let c = loop.world.client.counters
    // Backoff 50, 100, 200, 400, 400 ms: 3 to 5 attempts in 600 ms.
    #expect(c.connectAttempts >= 3 && c.connectAttempts <= 6, "\(c.connectAttempts) attempts")
    #expect(c.connectFailures == c.connectAttempts)
    #expect(loop.world.client.lastFailure == .connect(Errno(rawValue: ECONNREFUSED)))
    #expect(loop.world.client.phase == .backoff)
    // The ticker ran on time all along.
    #expect(loop.world.tickLateness < latenessBound, "\(loop.world.tickLateness.nanoseconds) ns late")
    #expect(loop.publish("sl/late/x", "dropped", qos: 0) == .dropped)
    #expect(loop.publish("sl/late/x", "kept", qos: 1) == .accepted)
    #expect(loop.world.client.counters.droppedOffline == 1)

    let sub = try { () throws -> Subscriber in
      try broker.start()
      return try broker.subscriber("watch-late", topic: "sl/late/x", count: 1)
    }()
    #expect(loop.run { $0.client.counters.acknowledged == 1 })
    #expect(loop.world.client.counters.connections == 1)
    #expect(sub.lines() == ["sl/late/x|kept|0|1"])
  }

  /// The broker stops reading (SIGSTOP), then is killed and restarted: QoS 1 messages sent and
  /// not acknowledged go again with DUP, those published while it was down go after the
  /// reconnect; all arrive; availability is online again on the new broker.
  @Test func brokerKilledAndRestarted() throws {
    let broker = try Broker()
    try broker.start()
    var loop = try Loop(
      try makeClient(tcp(broker), id: "sl-restart", availability: "sl/rs/availability", keepAlive: 10))
    #expect(loop.run { $0.client.phase == .connected })

    broker.pause()
    for i in 1...3 { #expect(loop.publish("sl/rs/data", "m\(i)", qos: 1) == .accepted) }
    loop.run(milliseconds: 100)  // sent into the socket; nobody acknowledges
    #expect(loop.world.client.pendingSendBytes == 0)
    #expect(loop.world.client.inflightMessages == 3)
    broker.kill()
    #expect(loop.run { $0.client.phase == .backoff })
    #expect(loop.world.client.counters.connectionsLost == 1)
    for i in 4...5 { #expect(loop.publish("sl/rs/data", "m\(i)", qos: 1) == .accepted) }
    loop.run(milliseconds: 200)  // reconnects fail: nothing listens
    #expect(loop.world.client.counters.connectFailures >= 1)

    try broker.start()
    let sub = try broker.subscriber("watch-rs", topic: "sl/rs/#", count: 6)
    #expect(loop.run { $0.client.inflightMessages == 0 })
    let lines = sub.lines()
    #expect(lines.first == "sl/rs/availability|online|0|0")
    #expect(lines.dropFirst().sorted() == (1...5).map { "sl/rs/data|m\($0)|0|1" })
    // On the wire: the three sent before the kill carry DUP (mosquitto logs d1), the two
    // published while it was down do not.
    let log = broker.log()
    #expect(log.components(separatedBy: "Received PUBLISH from sl-restart (d1, q1").count - 1 == 3)
    #expect(log.components(separatedBy: "Received PUBLISH from sl-restart (d0, q1").count - 1 == 2)
    let c = loop.world.client.counters
    #expect(c.retransmitted == 3)
    #expect(c.acknowledged == 5)
    #expect(c.connections == 2)
    #expect(c.droppedWindowFull == 0 && c.unmatchedAcks == 0)
  }

  /// A broker that never answers: a listening socket nobody accepts from, with a backlog of
  /// 0. The first connect completes (the kernel queues it) and the CONNECT gets no CONNACK; the
  /// queue is then full, so later SYNs are dropped and the connects never complete. Both end in
  /// the connect timeout, counted and retried, and the loop never waits for either.
  @Test func brokerThatNeverAnswers() throws {
    let listener = try SilentListener()
    let address = try #require(SocketAddress.parse("127.0.0.1", port: listener.port))
    var loop = try Loop(try makeClient(address, id: "sl-silent") { $0.connectTimeout = .milliseconds(150) })
    loop.run(milliseconds: 20)
    loop.resetLateness()
    loop.run(milliseconds: 700)
    let c = loop.world.client.counters
    #expect(c.connectFailures >= 2 && c.connections == 0, "\(c)")
    #expect(loop.world.client.lastFailure == .connectTimeout)
    #expect(loop.world.tickLateness < latenessBound, "\(loop.world.tickLateness.nanoseconds) ns late")
  }

  /// A broker that stops reading (SIGSTOP): the socket's buffers fill, then the send buffer;
  /// QoS 0 messages that find no room and QoS 1 messages past the window are dropped and
  /// counted, whole; the loop runs on time throughout; once the broker reads again, everything
  /// queued goes out and the window is acknowledged.
  @Test func brokerThatStopsReading() throws {
    let broker = try Broker()
    try broker.start()
    var loop = try Loop(try makeClient(tcp(broker), id: "sl-slow") { $0.sendBufferBytes = 65_536 })
    #expect(loop.run { $0.client.phase == .connected })
    broker.pause()
    defer { broker.resume() }
    let payload = String(repeating: "x", count: 16_000)
    loop.resetLateness()
    var rounds = 0
    // Three 16 kB messages fit the 64 KiB send buffer: a drop means the socket took nothing.
    while loop.world.client.counters.droppedSendBufferFull == 0 && rounds < 2_000 {
      for _ in 0..<3 { _ = loop.publish("sl/slow/data", payload, qos: 0) }
      loop.run(milliseconds: 1)
      rounds += 1
    }
    var c = loop.world.client.counters
    #expect(c.droppedSendBufferFull > 0, "no drop after \(rounds) rounds")
    for i in 0..<10 { _ = loop.publish("sl/slow/q1", "\(i)", qos: 1) }
    loop.run(milliseconds: 50)
    c = loop.world.client.counters
    #expect(c.publishedQoS1 == 8 && c.droppedWindowFull == 2)
    #expect(loop.world.tickLateness < latenessBound, "\(loop.world.tickLateness.nanoseconds) ns late")
    broker.resume()
    #expect(loop.run { $0.client.inflightMessages == 0 && $0.client.pendingSendBytes == 0 })
    c = loop.world.client.counters
    #expect(c.acknowledged == 8 && c.connections == 1 && c.connectionsLost == 0)
  }

  /// Wrong credentials: each CONNACK refuses (code 5, not authorised, from mosquitto 2.0 for a
  /// bad password), the refusals are counted, the attempts back off; the right ones connect.
  @Test func wrongCredentials() throws {
    let broker = try Broker(users: [("board", "secret")])
    try broker.start()
    var wrong = try Loop(try makeClient(tcp(broker), id: "sl-wrong", username: "board", password: "guess"))
    wrong.run(milliseconds: 20)
    wrong.resetLateness()
    wrong.run(milliseconds: 1_000)
    let c = wrong.world.client.counters
    #expect(c.refusals >= 2)
    #expect(c.connections == 0)
    // Backoff 50, 100, 200, 400, 400 ms: at most 5 attempts in 1 s (without it: hundreds).
    #expect(c.connectAttempts <= 6, "\(c.connectAttempts) attempts")
    #expect(wrong.world.client.lastFailure == .refused(5))
    #expect(wrong.world.tickLateness < latenessBound, "\(wrong.world.tickLateness.nanoseconds) ns late")

    var right = try Loop(try makeClient(tcp(broker), id: "sl-right", username: "board", password: "secret"))
    #expect(right.run { $0.client.phase == .connected })
    #expect(right.world.client.counters.refusals == 0)
  }

  /// Publishing at QoS 0 and 1 and receiving commands, connected, allocates nothing on the loop
  /// thread.
  @Test func steadyStateAllocatesNothing() throws {
    let preload = getenv("LD_PRELOAD").map { String(cString: $0) } ?? ""
    let underValgrind = preload.contains("vgpreload")
    if !underValgrind { #expect(sl_alloc_counter_active() != 0) }
    let broker = try Broker()
    try broker.start()
    var loop = try Loop(
      try makeClient(
        tcp(broker), id: "sl-alloc", availability: "sl/alloc/availability", subscriptions: ["sl/alloc/cmd"]
      ) { $0.inflightWindow = 32 })
    #expect(loop.run { $0.client.phase == .connected && $0.client.counters.subscribed == 1 })
    // Warm-up: every path once (publish both QoS, PUBACK, an incoming QoS 1 command, its PUBACK).
    try loop.executor.spawn(.publisher(remaining: 20, every: .milliseconds(1), next: monotonicNow()))
    try broker.publish("sl/alloc/cmd", "warm", qos: 1)
    #expect(loop.run { $0.published == 20 && $0.messagesTaken == 1 && $0.client.inflightMessages == 0 })

    // Commands arrive while the loop publishes 400 messages (1 per ms).
    loop.world.recording = false
    let lines = (1...100).map { "c\($0)" }.joined(separator: "\n") + "\n"
    let input = broker.directory.appendingPathComponent("commands.txt")
    try lines.write(to: input, atomically: true, encoding: .utf8)
    let commands = Process()
    commands.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
    commands.arguments = ["-p", "\(broker.port)", "-h", "127.0.0.1", "-t", "sl/alloc/cmd", "-q", "1", "-l"]
    commands.standardInput = try FileHandle(forReadingFrom: input)
    try loop.executor.spawn(.publisher(remaining: 400, every: .milliseconds(1), next: monotonicNow()))
    try commands.run()
    let before = sl_alloc_count_thread()
    loop.run(upTo: 20) { $0.published == 420 && $0.messagesTaken == 101 && $0.client.inflightMessages == 0 }
    let allocations = sl_alloc_count_thread() - before
    commands.waitUntilExit()
    #expect(loop.world.published == 420)
    #expect(loop.world.messagesTaken == 101)
    if !underValgrind { #expect(allocations == 0) }
    let c = loop.world.client.counters
    // A QoS 1 message finding the window full (32 unacknowledged: the broker 32 ms behind on a
    // loaded host) is dropped and counted, not an error here.
    #expect(c.publishedQoS0 == 210 && c.publishedQoS1 + c.droppedWindowFull == 210)
    #expect(c.acknowledged == c.publishedQoS1)
    #expect(c.droppedSendBufferFull == 0 && c.connections == 1)
  }
}
