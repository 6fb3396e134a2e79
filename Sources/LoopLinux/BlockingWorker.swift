// Slow work as an interrupt source: a fixed set of worker threads, created at startup, does the
// file I/O that can block (a 1-Wire sysfs read sleeps ~750 ms and ignores O_NONBLOCK; a write to
// an SD card may wait) and raises an interrupt line through an eventfd when a request is done,
// like a DMA controller finishing a transfer. The loop thread only fills and empties slots.
//
// Requests and results live in fixed slots of one anonymous mapping made at startup: nothing is
// allocated afterwards, by either side. Each slot is owned by one loop-side user (a task) and
// moves through these states; the arrows name who moves it:
//
//        submitRead / submitWrite (loop)        claim (worker)
//   idle ------------------------------> submitted ------------> running
//    ^                                                              |
//    |            collect (loop)                 finish (worker)    v
//    +---------------------------------------------------------- done
//
// `state` is the only field both sides touch at once: the loop writes the request, then stores
// `submitted` (releasing); a worker claims it with a compare-exchange (acquiring), does the
// work, writes the result and stores `done` (releasing); the loop loads `done` (acquiring)
// before reading the result. A slot is never in two hands.

import CLinux
import LoopCore
import Synchronization

/// The outcome of a finished request.
public struct WorkResult: Equatable, Sendable {
  /// Bytes read (a read) or written (a write) before it ended.
  public var count: Int
  /// 0 on success, otherwise the errno that ended it.
  public var errno: Int32
  /// When the worker finished it, on CLOCK_MONOTONIC.
  public var finished: Instant

  /// A result of `count` bytes, `errno` (0 when none), finished at `finished`.
  public init(count: Int, errno: Int32, finished: Instant) {
    self.count = count
    self.errno = errno
    self.finished = finished
  }
}

/// What a request asks for.
enum WorkKind: Int32 {
  /// Open the slot's path (blocking), read up to `length` bytes into its data, close.
  case readFile = 1
  /// Write the slot's first `length` data bytes to `fd`, all of them (blocking).
  case writeAll = 2
}

/// The fixed part of one slot. `state` is shared; the other fields belong to whoever holds the
/// slot (see the diagram in the file header).
struct WorkSlotHeader: ~Copyable {
  static let idle = 0
  static let submitted = 1
  static let running = 2
  static let done = 3

  let state = Atomic<Int>(0)
  var kind: Int32 = 0
  var fd: Int32 = -1
  var length = 0
  var resultCount = 0
  var resultErrno: Int32 = 0
  var finished: Int64 = 0
}

/// What the worker threads share with the loop: at the start of the mapping, followed by the
/// slot headers, the paths and the data buffers.
struct WorkerShared: ~Copyable {
  /// Set (then one token per thread posted) to end the threads.
  let quit = Atomic<Bool>(false)
  /// Threads still running, plus one for the loop side until it is dropped; whoever brings it
  /// to zero closes the eventfds and unmaps the memory.
  let live = Atomic<Int>(1)
  let mappingBytes: Int
  /// A blocking eventfd in semaphore mode: one token per submitted request; threads sleep here.
  let requests: Int32
  /// A duplicate of the platform trigger's eventfd, written when a request is done: the
  /// worker's own, so a thread that finishes after its platform is gone writes to no one
  /// else's fd.
  let completion: Int32
  let slots: Int
  let headers: UnsafeMutablePointer<WorkSlotHeader>
  let paths: UnsafeMutablePointer<CChar>
  let data: UnsafeMutableRawPointer
}

/// A fixed set of worker threads doing blocking file I/O for the loop, with one fixed slot per
/// user; each finished request raises the interrupt line of the platform trigger it was given.
///
/// The loop side (every method) runs on the loop thread only. One task, the dispatcher, calls
/// `dispatch` to wake the slot owners when the line is raised (the executor has one handler per
/// line); a slot's owner submits with its waker and collects the result when woken.
///
/// The threads are detached and never joined: one may stay blocked for good in a read nobody
/// answers (a FIFO). So the mapping and the eventfds are shared: dropping the worker asks the
/// threads to end once idle, and the last of them (or the loop side, if they are gone) closes
/// and unmaps them. A thread blocked for good keeps them until the process exits.
public struct BlockingWorker: ~Copyable {
  /// The most slots a worker may have.
  public static let slotCapacity = 64
  /// Bytes of a slot's data buffer: the most one read returns or one write request carries.
  public static let dataBytes = 4096
  /// Bytes of a slot's path, NUL included.
  public static let pathBytes = 256

  private let shared: UnsafeMutablePointer<WorkerShared>
  private let threadsStarted: Int
  private var wakers = InlineArray<64, Waker?>(repeating: nil)
  /// The slots, numbered `0..<slots`.
  public let slots: Int
  /// The interrupt line raised when a request is done.
  public let line: Interrupt
  /// Requests finished so far (collected by their owners).
  public private(set) var completed: UInt64 = 0

  /// A worker of `slots` slots and `threads` threads (at least 1) that raises `trigger` when a
  /// request is done. Call it after blocking the signals the program watches: the threads
  /// inherit the signal mask, so a signal never interrupts their I/O or runs on them.
  ///
  /// Startup only: it maps the slots and starts the threads. The corresponding C functions are
  /// `mmap`, `eventfd` and `pthread_create`.
  @inline(never)
  public init(slots: Int, threads: Int, trigger: InterruptTrigger) throws(Errno) {
    precondition(slots > 0 && slots <= BlockingWorker.slotCapacity, "BlockingWorker.init: slots")
    precondition(threads > 0, "BlockingWorker.init: threads")
    let headerStart = BlockingWorker.align(MemoryLayout<WorkerShared>.size)
    let pathStart = BlockingWorker.align(headerStart + slots * MemoryLayout<WorkSlotHeader>.stride)
    let dataStart = BlockingWorker.align(pathStart + slots * BlockingWorker.pathBytes)
    let total = dataStart + slots * BlockingWorker.dataBytes
    let requests = try systemCall("BlockingWorker.init: eventfd") {
      cl_eventfd(0, Int32(EFD_SEMAPHORE | EFD_CLOEXEC))
    }
    let completion: Int32
    do throws(Errno) {
      completion = try systemCall("BlockingWorker.init: dup") {
        cl_fcntl(trigger.rawValue, F_DUPFD_CLOEXEC, 0)
      }
    } catch {
      _ = cl_close(requests)
      throw error
    }
    guard let base = cl_mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      base != UnsafeMutableRawPointer(bitPattern: -1)
    else {
      let error = Errno(rawValue: cl_errno())
      _ = cl_close(requests)
      _ = cl_close(completion)
      throw error
    }
    // SAFETY: the mapping is `total` bytes, page-aligned, zeroed, and lives as long as the
    // threads; each region below lies inside it and is bound to one type only.
    let headers = (base + headerStart).bindMemory(to: WorkSlotHeader.self, capacity: slots)
    for i in 0..<slots { (headers + i).initialize(to: WorkSlotHeader()) }
    let shared = base.bindMemory(to: WorkerShared.self, capacity: 1)
    shared.initialize(
      to: WorkerShared(
        mappingBytes: total, requests: requests, completion: completion, slots: slots, headers: headers,
        paths: (base + pathStart).bindMemory(to: CChar.self, capacity: slots * BlockingWorker.pathBytes),
        data: base + dataStart))
    for started in 0..<threads {
      shared.pointee.live.add(1, ordering: .relaxed)
      let status = cl_thread_start_detached(workerThreadEntry, UnsafeMutableRawPointer(shared))
      if status != 0 {
        shared.pointee.live.subtract(1, ordering: .relaxed)
        // The threads already started end at once.
        BlockingWorker.end(shared, threads: started)
        throw Errno(rawValue: status)
      }
    }
    self.shared = shared
    threadsStarted = threads
    self.slots = slots
    line = trigger.line
  }

  deinit {
    BlockingWorker.end(shared, threads: threadsStarted)
  }

  /// Asks `threads` threads to end once idle (one blocked in a request ends after it), then
  /// drops the loop side's share of the mapping.
  private static func end(_ shared: UnsafeMutablePointer<WorkerShared>, threads: Int) {
    shared.pointee.quit.store(true, ordering: .releasing)
    for _ in 0..<threads { cl_eventfd_signal(shared.pointee.requests) }
    if shared.pointee.live.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { release(shared) }
  }

  /// Closes the eventfds and unmaps the memory: by the last user to let go.
  fileprivate static func release(_ shared: UnsafeMutablePointer<WorkerShared>) {
    _ = cl_close(shared.pointee.requests)
    _ = cl_close(shared.pointee.completion)
    _ = cl_munmap(UnsafeMutableRawPointer(shared), shared.pointee.mappingBytes)
  }

  private static func align(_ n: Int) -> Int { (n + 63) & ~63 }

  /// Whether `slot` holds no request (idle): its owner may submit.
  public func isIdle(_ slot: Int) -> Bool {
    shared.pointee.headers[slot].state.load(ordering: .acquiring) == WorkSlotHeader.idle
  }

  /// `submitRead(slot:path:maxBytes:waker:)` of the fixed-capacity text `path`.
  public mutating func submitRead<let n: Int>(
    slot: Int, path: borrowing FixedText<n>, maxBytes: Int, waker: Waker
  ) -> Bool {
    path.withCString { submitRead(slot: slot, path: $0, maxBytes: maxBytes, waker: waker) }
  }

  /// Asks a worker to open `path` (a NUL-terminated C string), read up to `maxBytes` bytes and
  /// close it; `waker` is woken when it is done. False when the slot is busy (its previous
  /// request is still in flight or not collected) or the path does not fit: nothing submitted.
  @inline(never)
  public mutating func submitRead(
    slot: Int, path: UnsafePointer<CChar>, maxBytes: Int, waker: Waker
  ) -> Bool {
    precondition(maxBytes > 0 && maxBytes <= BlockingWorker.dataBytes, "BlockingWorker.submitRead: maxBytes")
    guard isIdle(slot) else { return false }
    let destination = shared.pointee.paths + slot * BlockingWorker.pathBytes
    var i = 0
    while path[i] != 0 {
      if i == BlockingWorker.pathBytes - 1 { return false }
      destination[i] = path[i]
      i += 1
    }
    destination[i] = 0
    return submit(slot, .readFile, fd: -1, length: maxBytes, waker: waker)
  }

  /// Asks a worker to write all of `bytes` (at most `dataBytes`, copied now) to `fd`, which
  /// must stay open until the result is collected; `waker` is woken when it is done. False
  /// when the slot is busy: nothing submitted.
  @inline(never)
  public mutating func submitWrite(slot: Int, fd: Int32, bytes: Span<UInt8>, waker: Waker) -> Bool {
    precondition(bytes.count <= BlockingWorker.dataBytes, "BlockingWorker.submitWrite: too many bytes")
    guard isIdle(slot) else { return false }
    let destination = data(slot)
    bytes.withUnsafeBytes { source in
      // SAFETY: an idle slot's data buffer (`dataBytes` long, checked above) is the loop's
      // until it is submitted; `source` covers the span for this closure.
      if let base = source.baseAddress, source.count > 0 {
        destination.copyMemory(from: base, byteCount: source.count)
      }
    }
    return submit(slot, .writeAll, fd: fd, length: bytes.count, waker: waker)
  }

  /// Fills `slot`'s data buffer through `fill` (given the whole buffer, it returns how many
  /// bytes it put there), then submits them as a write to `fd`, as `submitWrite` does. Saves a
  /// copy when the bytes come from a ring. Returns the byte count submitted, nil when the slot
  /// is busy (`fill` is not called then).
  public mutating func submitWrite(
    slot: Int, fd: Int32, waker: Waker, filling fill: (UnsafeMutableRawBufferPointer) -> Int
  ) -> Int? {
    guard isIdle(slot) else { return nil }
    // SAFETY: an idle slot's data buffer belongs to its owner, the loop, until it is submitted.
    let n = fill(UnsafeMutableRawBufferPointer(start: data(slot), count: BlockingWorker.dataBytes))
    precondition(n >= 0 && n <= BlockingWorker.dataBytes, "BlockingWorker.submitWrite: fill overran")
    _ = submit(slot, .writeAll, fd: fd, length: n, waker: waker)
    return n
  }

  private mutating func submit(_ slot: Int, _ kind: WorkKind, fd: Int32, length: Int, waker: Waker) -> Bool {
    let header = shared.pointee.headers + slot
    header.pointee.kind = kind.rawValue
    header.pointee.fd = fd
    header.pointee.length = length
    wakers[slot] = waker
    header.pointee.state.store(WorkSlotHeader.submitted, ordering: .releasing)
    // One token per request (semaphore mode): one thread wakes for it. A full counter cannot
    // happen (at most `slots` tokens wait).
    cl_eventfd_signal(shared.pointee.requests)
    return true
  }

  /// The result of `slot`'s request once a worker finished it, making the slot idle again; nil
  /// while it is in flight (or nothing was submitted). For a read, `withData` gives the bytes.
  public mutating func collect(_ slot: Int) -> WorkResult? {
    let header = shared.pointee.headers + slot
    guard header.pointee.state.load(ordering: .acquiring) == WorkSlotHeader.done else { return nil }
    let result = WorkResult(
      count: header.pointee.resultCount, errno: header.pointee.resultErrno,
      finished: Instant(nanoseconds: header.pointee.finished))
    wakers[slot] = nil
    completed += 1
    header.pointee.state.store(WorkSlotHeader.idle, ordering: .releasing)
    return result
  }

  /// The first `count` bytes of `slot`'s data buffer (what a read returned), to parse before the
  /// next request on the slot.
  public func withData<R>(_ slot: Int, count: Int, _ body: (Span<UInt8>) -> R) -> R {
    precondition(count >= 0 && count <= BlockingWorker.dataBytes, "BlockingWorker.withData: count")
    // SAFETY: the slot's buffer is `dataBytes` long, raw bytes the workers only ever access as
    // bytes; an idle slot's buffer is the loop's, so nothing writes it while `body` reads.
    let bytes = UnsafeBufferPointer(start: data(slot).assumingMemoryBound(to: UInt8.self), count: count)
    return body(bytes.span)
  }

  /// Takes the completion line and wakes the owner of every finished slot. Call it from the
  /// one task that handles `line`; it leaves that task registered for the next completion.
  public mutating func dispatch<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) {
    while cx.take(line) {
      for slot in 0..<slots {
        guard let waker = wakers[slot],
          shared.pointee.headers[slot].state.load(ordering: .acquiring) == WorkSlotHeader.done
        else { continue }
        cx.wake(waker)
      }
    }
  }

  /// Waits (sleeping in 1 ms steps, off the loop: at shutdown) until `slot` is done or
  /// `deadline` passes; true when it is done. The corresponding C function is `clock_nanosleep`.
  public func waitUntilDone(_ slot: Int, until deadline: Instant) -> Bool {
    while shared.pointee.headers[slot].state.load(ordering: .acquiring) != WorkSlotHeader.done {
      if isIdle(slot) { return false }
      if monotonicNow() >= deadline { return false }
      var step = timespec(tv_sec: 0, tv_nsec: 1_000_000)
      _ = cl_clock_nanosleep(CLOCK_MONOTONIC, 0, &step, nil)
    }
    return true
  }

  private func data(_ slot: Int) -> UnsafeMutableRawPointer {
    shared.pointee.data + slot * BlockingWorker.dataBytes
  }
}

/// The threads' entry point: a C function pointer, as pthread_create wants (no captures).
private let workerThreadEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = {
  argument in
  // SAFETY: the argument is the worker's mapping, which outlives every thread (never unmapped
  // once a thread started).
  workerLoop(argument!.assumingMemoryBound(to: WorkerShared.self))
  return nil
}

/// One worker thread: sleep until a token, claim one submitted slot, do it, raise the line.
private func workerLoop(_ shared: UnsafeMutablePointer<WorkerShared>) {
  let requests = shared.pointee.requests
  while true {
    var token: UInt64 = 0
    let n = withUnsafeMutableBytes(of: &token) { raw in cl_read(requests, raw.baseAddress, 8) }
    if n != 8 { continue }  // EINTR only (signals are blocked on this thread): wait again.
    if shared.pointee.quit.load(ordering: .acquiring) {
      if shared.pointee.live.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
        BlockingWorker.release(shared)
      }
      return
    }
    for slot in 0..<shared.pointee.slots {
      let header = shared.pointee.headers + slot
      let claimed = header.pointee.state.compareExchange(
        expected: WorkSlotHeader.submitted, desired: WorkSlotHeader.running, ordering: .acquiring
      ).exchanged
      guard claimed else { continue }
      perform(header, shared, slot)
      header.pointee.finished = monotonicNow().nanoseconds
      header.pointee.state.store(WorkSlotHeader.done, ordering: .releasing)
      cl_eventfd_signal(shared.pointee.completion)
      break
    }
  }
}

/// Does one claimed request, blocking as long as the kernel takes, and stores its result.
private func perform(
  _ header: UnsafeMutablePointer<WorkSlotHeader>, _ shared: UnsafeMutablePointer<WorkerShared>, _ slot: Int
) {
  let data = shared.pointee.data + slot * BlockingWorker.dataBytes
  let length = header.pointee.length
  var done = 0
  var failure: Int32 = 0
  switch WorkKind(rawValue: header.pointee.kind) {
  case .readFile:
    let path = shared.pointee.paths + slot * BlockingWorker.pathBytes
    // Blocking, on purpose: this thread may wait (a FIFO waits for its writer). A fresh fd is
    // at offset 0, so a plain read works for sysfs files and FIFOs alike.
    let fd = cl_open(path, O_RDONLY | O_CLOEXEC, 0)
    if fd < 0 {
      failure = cl_errno()
      break
    }
    while true {
      let n = cl_read(fd, data, length)
      if n >= 0 {
        done = n
      } else if cl_errno() == EINTR {
        continue
      } else {
        failure = cl_errno()
      }
      break
    }
    _ = cl_close(fd)
  case .writeAll:
    while done < length {
      let n = cl_write(header.pointee.fd, data + done, length - done)
      if n > 0 {
        done += n
      } else if n < 0 && cl_errno() == EINTR {
        continue
      } else {
        // 0 cannot happen for a regular file or a pipe; take it as "no progress" and stop.
        failure = n < 0 ? cl_errno() : EIO
        break
      }
    }
  case .none:
    bug("BlockingWorker: a slot was submitted without a kind")
  }
  header.pointee.resultCount = done
  header.pointee.resultErrno = failure
}
