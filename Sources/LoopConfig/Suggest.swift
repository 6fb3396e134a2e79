// "Did you mean": the closest known word to a misspelt key, kind or name, by edit distance
// (optimal string alignment: insertions, deletions, substitutions and swaps of neighbours),
// ignoring case. Only a close match is offered; a wild guess is worse than none.

/// The candidate closest to `word` (or `note`, when `orNote`), when one is close enough to be
/// a likely typo.
func suggestion(for word: ArraySlice<UInt8>, among candidates: Words, orNote: Bool = false) -> [UInt8]? {
  var names = candidates.list
  if orNote { names.append(bytes("note")) }
  return suggestionIndex(for: word, among: names).map { names[$0] }
}

/// The index of the name in `candidates` closest to `word`, when one is close enough.
func suggestionIndex(for word: ArraySlice<UInt8>, among candidates: [[UInt8]]) -> Int? {
  var best: Int? = nil
  var bestDistance = Int.max
  let typed = Array(word)
  for (index, candidate) in candidates.enumerated() {
    let distance = editDistance(typed, candidate)
    if distance < bestDistance && isClose(distance, typed, candidate) {
      best = index
      bestDistance = distance
    }
  }
  return best
}

/// Whether `distance` edits from `typed` to `candidate` is a plausible typo: one edit for
/// short words, up to a third of the longer word (at most 3) otherwise; or `typed` is a
/// shortening of the candidate (`in` for `input`). A case-only difference has distance 0
/// here and always counts.
private func isClose(_ distance: Int, _ typed: [UInt8], _ candidate: [UInt8]) -> Bool {
  let longer = max(typed.count, candidate.count)
  if distance <= max(1, min(3, longer / 3)) { return true }
  guard typed.count >= 2 && typed.count < candidate.count else { return false }
  for index in typed.indices where lowered(typed[index]) != lowered(candidate[index]) { return false }
  return true
}

/// Optimal-string-alignment distance between `a` and `b`, comparing ASCII letters without case.
func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  // Names are short (keys and names are at most a few dozen bytes); cap the work anyway.
  if a.count > 64 || b.count > 64 { return max(a.count, b.count) }
  // Three rows of the table, row i at (i % 3) * 65: the current one, the one before and the
  // one before that (for swaps). Inline: no array to keep unique on every write.
  var table = InlineArray<195, Int>(repeating: 0)
  for j in 0...b.count { table[j] = j }
  for i in 1...a.count {
    let current = (i % 3) * 65
    let row = ((i - 1) % 3) * 65
    let previousRow = ((i + 1) % 3) * 65
    table[current] = i
    for j in 1...b.count {
      let cost = lowered(a[i - 1]) == lowered(b[j - 1]) ? 0 : 1
      var value = min(table[row + j] + 1, table[current + j - 1] + 1, table[row + j - 1] + cost)
      if i > 1 && j > 1 && lowered(a[i - 1]) == lowered(b[j - 2]) && lowered(a[i - 2]) == lowered(b[j - 1]) {
        value = min(value, table[previousRow + j - 2] + 1)
      }
      table[current + j] = value
    }
  }
  return table[(a.count % 3) * 65 + b.count]
}

private func lowered(_ byte: UInt8) -> UInt8 {
  byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}
