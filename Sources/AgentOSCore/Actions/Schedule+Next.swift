import Foundation

extension Schedule {
    /// The first time after `date` a cron schedule fires (minute resolution, UTC; day of month and
    /// day of week both restricted: either matches, as cron does). Nil for an interval, or when
    /// nothing matches within four years (`0 0 31 2 *`).
    public func nextCronTime(after date: Date) -> Date? {
        guard case .cron(let text) = self else { return nil }
        let fields = text.split(separator: " ").map(String.init)
        let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
        let sets = zip(fields, bounds).map { Self.values($0, $1.0, $1.1) }
        guard sets.count == 5 else { return nil }
        let (minutes, hours, days, months) = (sets[0], sets[1], sets[2], sets[3])
        let weekdays = Set(sets[4].map { $0 % 7 })
        let dayRestricted = fields[2] != "*"
        let weekdayRestricted = fields[4] != "*"
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var t = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        let limit = date.addingTimeInterval(4 * 366 * 86_400)
        while t < limit {
            let c = calendar.dateComponents([.month, .day, .weekday, .hour, .minute], from: t)
            let dayMatches: Bool
            switch (dayRestricted, weekdayRestricted) {
            case (true, true): dayMatches = days.contains(c.day!) || weekdays.contains(c.weekday! - 1)
            default: dayMatches = days.contains(c.day!) && weekdays.contains(c.weekday! - 1)
            }
            if !months.contains(c.month!) || !dayMatches {
                // The next midnight.
                t = calendar.startOfDay(for: t).addingTimeInterval(86_400)
            } else if !hours.contains(c.hour!) {
                t = t.addingTimeInterval(Double(60 - c.minute!) * 60)
            } else if !minutes.contains(c.minute!) {
                t = t.addingTimeInterval(60)
            } else {
                return t
            }
        }
        return nil
    }

    /// The values one cron field allows (`parse` has checked it).
    private static func values(_ field: String, _ lo: Int, _ hi: Int) -> Set<Int> {
        var out = Set<Int>()
        for item in field.split(separator: ",") {
            var body = Substring(item)
            var step = 1
            if let slash = body.firstIndex(of: "/") {
                step = Int(body[body.index(after: slash)...]) ?? 1
                body = body[..<slash]
            }
            let range: ClosedRange<Int>
            if body == "*" {
                range = lo...hi
            } else {
                let ends = body.split(separator: "-").compactMap { Int($0) }
                guard let first = ends.first, let last = ends.last, first <= last else { continue }
                // `5/10` means from 5 to the end in steps of 10.
                range = first...(ends.count == 1 && step > 1 ? hi : last)
            }
            out.formUnion(stride(from: range.lowerBound, through: range.upperBound, by: step))
        }
        return out
    }
}
