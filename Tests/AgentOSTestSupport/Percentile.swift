/// PostgreSQL's `percentile_cont`, written out for the tests' own recounts: linear interpolation
/// between the closest ranks; nil for no values.
public func percentileCont(_ values: [Double], _ p: Double) -> Double? {
    let v = values.sorted()
    guard !v.isEmpty else { return nil }
    let rank = p * Double(v.count - 1)
    let lo = Int(rank)
    let frac = rank - Double(lo)
    return lo + 1 < v.count ? v[lo] + (v[lo + 1] - v[lo]) * frac : v[lo]
}
