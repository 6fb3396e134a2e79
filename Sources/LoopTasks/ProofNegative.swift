// The allocation proof's negative check: `cross/build aarch64 --no-allocations` also builds the
// proof (Sources/FirmwareProof) with `-D PROOF_NEGATIVE`, which makes `Heartbeat.poll` store an
// escaping closure that captures a value (a heap allocation). That build must fail: a proof
// that let this through would not be reaching the tasks' polls. Never in a product.

#if PROOF_NEGATIVE
  import LoopCore

  /// Where `Heartbeat.poll` stores the negative check's closure.
  nonisolated(unsafe) public var proofNegativeClosure: (() -> Instant)? = nil
#endif
