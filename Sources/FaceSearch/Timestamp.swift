/// Conversions between Unix milliseconds and ISO-8601 / RFC 3339 text, without locale or time-zone state.
public enum Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` into Unix milliseconds.
    ///
    /// Returns nil for anything else; a time without an offset is ambiguous and is rejected.
    public static func parseISO8601(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else {
            return nil
        }
        var millis: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: ",") {
            index += 1
            var scale: Int64 = 100
            let fractionStart = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                millis += Int64(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > fractionStart else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds: Int64 = 0
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else {
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard expect("+-"), let offsetHours = number(2) else { return nil }
            _ = expect(":")
            guard let offsetMinutes = number(2), offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count else { return nil }
        let days = self.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * 1000 + millis
    }

    /// Formats Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-01-30T02:21:30.208Z`.
    public static func formatRFC3339UTC(milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        Self.appendRFC3339UTC(milliseconds: milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The calendar date of the last day formatted: faces come sorted by creation time, so most
    /// follow one of the same day and skip the calendar arithmetic.
    public struct DayCache: Sendable {
        fileprivate var days = Int64.min
        fileprivate var date: (year: Int64, month: Int64, day: Int64) = (0, 0, 0)

        /// An empty cache.
        public init() {}
    }

    /// Appends Unix milliseconds as ``formatRFC3339UTC(milliseconds:)`` spells them.
    ///
    /// Written digit by digit into 24 bytes in place: it runs once per exported face.
    public static func appendRFC3339UTC(milliseconds: Int64, to output: inout [UInt8]) {
        var cache = DayCache()
        Self.appendRFC3339UTC(milliseconds: milliseconds, to: &output, cache: &cache)
    }

    /// ``appendRFC3339UTC(milliseconds:to:)`` with the date of the previous call's day kept in `cache`.
    public static func appendRFC3339UTC(milliseconds: Int64, to output: inout [UInt8], cache: inout DayCache) {
        let (seconds, millis) = Self.floorDivide(milliseconds, 1000)
        let (days, secondOfDay) = Self.floorDivide(seconds, 86_400)
        if days != cache.days {
            cache.date = Self.civilFromDays(days)
            cache.days = days
        }
        let (year, month, day) = cache.date
        guard (0...9999).contains(year) else {
            // Outside four-digit years (never a real add_time): the general path.
            var text = Self.formatDate(milliseconds: milliseconds, offsetSeconds: 0) + "T"
            Self.append(secondOfDay / 3600, width: 2, to: &text)
            text += ":"
            Self.append(secondOfDay / 60 % 60, width: 2, to: &text)
            text += ":"
            Self.append(secondOfDay % 60, width: 2, to: &text)
            text += "."
            Self.append(millis, width: 3, to: &text)
            output.append(contentsOf: (text + "Z").utf8)
            return
        }
        // The 24 bytes written in place, in room added once (no zero-fill first).
        output.append(addingCapacity: 24) { span in
            span.withUnsafeMutableBufferPointer { room, initialized in
                Self.write24(year, month, day, secondOfDay, millis, to: room.baseAddress! + initialized)
                initialized += 24
            }
        }
    }

    /// `YYYY-MM-DDThh:mm:ss.mmmZ` into 24 bytes at `start`, two digits at a time from a table.
    private static func write24(
        _ year: Int64,
        _ month: Int64,
        _ day: Int64,
        _ secondOfDay: Int64,
        _ millis: Int64,
        to start: UnsafeMutablePointer<UInt8>
    ) {
        let pairs = Self.digitPairs.utf8Start
        /// `value` (0 to 99) as two digits at `offset`.
        func put2(_ value: UInt32, at offset: Int) {
            (start + offset).initialize(to: pairs[Int(value) * 2])
            (start + offset + 1).initialize(to: pairs[Int(value) * 2 + 1])
        }
        let year = UInt32(truncatingIfNeeded: year)
        let second = UInt32(truncatingIfNeeded: secondOfDay)
        let millis = UInt32(truncatingIfNeeded: millis)
        put2(year / 100, at: 0)
        put2(year % 100, at: 2)
        (start + 4).initialize(to: UInt8(ascii: "-"))
        put2(UInt32(truncatingIfNeeded: month), at: 5)
        (start + 7).initialize(to: UInt8(ascii: "-"))
        put2(UInt32(truncatingIfNeeded: day), at: 8)
        (start + 10).initialize(to: UInt8(ascii: "T"))
        put2(second / 3600, at: 11)
        (start + 13).initialize(to: UInt8(ascii: ":"))
        put2(second / 60 % 60, at: 14)
        (start + 16).initialize(to: UInt8(ascii: ":"))
        put2(second % 60, at: 17)
        (start + 19).initialize(to: UInt8(ascii: "."))
        (start + 20).initialize(to: UInt8(truncatingIfNeeded: millis / 100) &+ UInt8(ascii: "0"))
        put2(millis % 100, at: 21)
        (start + 23).initialize(to: UInt8(ascii: "Z"))
    }

    /// `00`, `01`, … `99`, one after the other.
    private static let digitPairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// The calendar day of Unix milliseconds in a zone `offsetSeconds` east of UTC, as `YYYY-MM-DD`.
    public static func formatDate(milliseconds: Int64, offsetSeconds: Int64) -> String {
        let (seconds, _) = Self.floorDivide(milliseconds, 1000)
        let (days, _) = Self.floorDivide(seconds + offsetSeconds, 86_400)
        let (year, month, day) = Self.civilFromDays(days)
        var text = ""
        text.reserveCapacity(10)
        Self.append(year, width: 4, to: &text)
        text += "-"
        Self.append(month, width: 2, to: &text)
        text += "-"
        Self.append(day, width: 2, to: &text)
        return text
    }

    private static func append(_ value: Int64, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.count < width { text += String(repeating: "0", count: width - digits.count) }
        text += digits
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor
        let remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
