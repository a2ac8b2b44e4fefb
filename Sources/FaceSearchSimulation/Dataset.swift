/// One face held by the simulator.
public struct SimulatedFace: Sendable, Hashable {
    /// The face's token: 32 lower-case hex digits.
    public var faceToken: String
    /// The user id.
    public var userID: String
    /// The user data.
    public var userData: String
    /// Creation time in Unix milliseconds; faces are kept in this order.
    public var addTime: Int64

    /// Creates a face.
    public init(faceToken: String, userID: String, userData: String, addTime: Int64) {
        self.faceToken = faceToken
        self.userID = userID
        self.userData = userData
        self.addTime = addTime
    }
}

/// One face library held by the simulator.
public struct SimulatedGroup: Sendable, Hashable {
    /// The library's id.
    public var groupID: String
    /// Its display name.
    public var groupName: String
    /// Its free-form data.
    public var groupData: String
    /// Creation time in Unix milliseconds.
    public var addTime: Int64
    /// Its faces, in creation order.
    public var faces: [SimulatedFace]

    /// Creates a library.
    public init(
        groupID: String,
        groupName: String = "",
        groupData: String = "",
        addTime: Int64 = 1_767_225_600_000,
        faces: [SimulatedFace]
    ) {
        self.groupID = groupID
        self.groupName = groupName
        self.groupData = groupData
        self.addTime = addTime
        self.faces = faces
    }
}

/// The libraries of one simulated account.
public struct Dataset: Sendable, Hashable {
    /// The libraries, in creation order.
    public var groups: [SimulatedGroup]

    /// Creates a dataset.
    public init(groups: [SimulatedGroup]) { self.groups = groups }

    /// Faces in all libraries.
    public var faceCount: Int { self.groups.reduce(0) { $0 + $1.faces.count } }
}

/// Makes seeded datasets full of the values that break exporters.
///
/// `user_data` and `user_id` draw on commas, quotes, CR/LF, tabs, leading `= + - @`, backslashes, CJK,
/// Arabic, emoji, composed and decomposed accents, empty strings and 128-character values.
public struct DatasetGenerator: Sendable {
    /// How library sizes are chosen.
    public enum Sizing: Sendable, Hashable {
        /// Every library holds exactly `faces` faces.
        case exact
        /// The first libraries have the edge sizes (0, 1, 100, 101, 1000, 1001, 3000, 1), the rest
        /// a size drawn from 1 to `faces`.
        case mixed
    }

    /// The sizes the first libraries of a mixed dataset have: empty, one, one page of the default
    /// `limit` and one over, one page of the largest `limit` and one over, several pages.
    public static let edgeSizes = [0, 1, 100, 101, 1000, 1001, 3000]

    /// Number of libraries. Default 20.
    public var groups: Int = 20
    /// Faces per library (`exact`) or the largest size (`mixed`). Default 500.
    public var faces: Int = 500
    /// Size policy. Default `mixed`.
    public var sizing: Sizing = .mixed
    /// The seed. Default 1.
    public var seed: UInt64 = 1
    /// Faces like production's instead of mostly hard values; nil (the default) for the hard mix.
    public var realistic: RealisticFaces?

    /// Faces shaped like production's: plain ASCII `user_data` of a set average size, and a share
    /// of faces whose `user_data` carries quotes, backslashes, control characters or non-ASCII.
    public struct RealisticFaces: Sendable, Hashable {
        /// Average bytes of one face as the API sends it (its JSON object in `face_tokens`). Default 190.
        public var averageFaceBytes = 190
        /// Share of faces with escapes or non-ASCII in `user_data`. Default 1/6.
        public var hardShare = 1.0 / 6

        /// The defaults: 190 bytes a face, a sixth of them hard.
        public init() {}

        /// Faces of `averageFaceBytes` on average, `hardShare` of them with hard `user_data`.
        public init(averageFaceBytes: Int, hardShare: Double) {
            self.averageFaceBytes = averageFaceBytes
            self.hardShare = hardShare
        }

        /// Bytes of a face's JSON besides `user_data`'s value: the keys, a 32-digit token, a
        /// `u-` and 7-digit user id, a 13-digit time and the comma between faces.
        public static let fixedBytes = 112

        /// What is wrong with these settings as command-line flags, or nil when they can be made.
        public var problem: String? {
            guard self.averageFaceBytes >= Self.fixedBytes, (0...1).contains(self.hardShare) else {
                return "--face-bytes must be at least \(Self.fixedBytes) and --hard-share within 0 to 1"
            }
            return nil
        }

        /// The `faceexport simulate` flags that make the same faces.
        public var simulatorArguments: [String] {
            ["--realistic", "--face-bytes", String(self.averageFaceBytes), "--hard-share", String(self.hardShare)]
        }
    }

    /// Creates a generator with the defaults.
    public init() {}

    /// Creates a generator.
    public init(groups: Int, faces: Int, sizing: Sizing = .mixed, seed: UInt64) {
        self.groups = groups
        self.faces = faces
        self.sizing = sizing
        self.seed = seed
    }

    /// Values that exercise CSV quoting, JSON escaping, spreadsheet formulas and Unicode handling.
    public static let hardStrings: [String] = [
        "Zhang, Wei",
        "She said \"hello\"",
        "\"quoted, with comma\"",
        "line one\r\nline two",
        "line one\nline two",
        "carriage\rreturn",
        "tab\tseparated",
        "\ttab first",
        "=SUM(A1:A9)",
        "+1 555 0100",
        "-42",
        "@admin",
        "C:\\Users\\face\\",
        "back\\slash \\\" mix",
        "张伟",
        "李小龙 (香港)",
        "محمد علي",
        "مرحبا, \"عالم\"",
        "😀👍🏽 👨‍👩‍👧",
        "",
        "Café composed",
        "Cafe\u{301} decomposed",
        " leading and trailing ",
        "null",
        "\u{1}\u{1F} control",
        "line\u{2028}separator",
        String(repeating: "x", count: 128),
        String(repeating: "字", count: 128),
        String(repeating: "😀", count: 32) + String(repeating: "a", count: 96),
    ]

    /// Builds the dataset.
    public func make() -> Dataset {
        var random = SplitMix64(seed: self.seed)
        var groups: [SimulatedGroup] = []
        groups.reserveCapacity(self.groups)
        let specialIDs = ["lib%20special", "team@a#b&c_d", "UPPER-lower_09"]
        for index in 0..<self.groups {
            let size: Int
            switch self.sizing {
            case .exact: size = self.faces
            case .mixed:
                size =
                    index < Self.edgeSizes.count
                    ? Self.edgeSizes[index] : Int.random(in: 1...max(1, self.faces), using: &random)
            }
            // A few libraries right after the edge sizes use every character the API allows in an id.
            let special = index - Self.edgeSizes.count
            let groupID =
                self.sizing == .mixed && specialIDs.indices.contains(special)
                ? specialIDs[special] : Self.groupID(index)
            let groupAddTime = 1_767_225_600_000 + Int64(index) * 86_400_000
            var faces: [SimulatedFace] = []
            faces.reserveCapacity(size)
            var addTime = groupAddTime + 1000
            for _ in 0..<size {
                addTime += Int64.random(in: 1...5000, using: &random)
                faces.append(self.makeFace(addTime: addTime, random: &random))
            }
            groups.append(
                SimulatedGroup(
                    groupID: groupID,
                    groupName: "Library \(index)",
                    groupData: Self.hardStrings[index % Self.hardStrings.count],
                    addTime: groupAddTime,
                    faces: faces
                )
            )
        }
        return Dataset(groups: groups)
    }

    /// The id of library number `index` in a generated dataset: `grp-0000`, `grp-0001`, ….
    public static func groupID(_ index: Int) -> String {
        let digits = String(index)
        return "grp-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private func makeFace(addTime: Int64, random: inout SplitMix64) -> SimulatedFace {
        let token = Self.hex(random.next()) + Self.hex(random.next())
        if let realistic = self.realistic {
            return SimulatedFace(
                faceToken: token,
                userID: "u-" + String(1_000_000 + random.next() % 9_000_000),
                userData: Self.realisticUserData(realistic, random: &random),
                addTime: addTime
            )
        }
        let userID: String
        switch random.next() % 20 {
        case 0: userID = ""
        case 1: userID = Self.hardStrings[Int(random.next() % UInt64(Self.hardStrings.count))].prefixBytes(48)
        default: userID = "u-" + String(random.next() % 10_000_000)
        }
        let userData: String
        switch random.next() % 4 {
        case 0, 1: userData = Self.hardStrings[Int(random.next() % UInt64(Self.hardStrings.count))]
        case 2:
            userData =
                "user \(random.next() % 100_000), \(Self.hardStrings[Int(random.next() % UInt64(Self.hardStrings.count))].prefix(40))"
        default: userData = "Test user"
        }
        return SimulatedFace(faceToken: token, userID: userID, userData: userData, addTime: addTime)
    }

    /// Plain `key=value` text around the size that makes the face `averageFaceBytes` long on the
    /// wire; for `hardShare` of the faces, a hard string (as JSON escapes it) takes part of it.
    private static func realisticUserData(_ realistic: RealisticFaces, random: inout SplitMix64) -> String {
        let target = max(0, realistic.averageFaceBytes - RealisticFaces.fixedBytes)
        let spread = target / 2
        var length = target - spread + Int(random.next() % UInt64(2 * spread + 1))
        var text = ""
        if Double(random.next() % 1_000_000) / 1_000_000 < realistic.hardShare {
            let hard = Self.hardStrings[Int(random.next() % UInt64(Self.hardStrings.count))].prefixBytes(40)
            text = hard + " "
            length -= Self.escapedBytes(hard) + 1
        }
        let words = Self.plainWords
        while length > 0 {
            let word = words[Int(random.next() % UInt64(words.count))] + String(random.next() % 1000) + ";"
            let piece = String(word.prefix(length))
            text += piece
            length -= piece.utf8.count
        }
        return text
    }

    /// The words plain `user_data` is made of.
    private static let plainWords = [
        "name=", "dept=", "site=", "emp=", "level=", "Tan", "Wei", "Ming", "Sales", "SGP-3", "ops", "2024",
    ]

    /// How many bytes `text` takes inside a JSON string.
    static func escapedBytes(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { total, scalar in
            switch scalar {
            case "\"", "\\", "\n", "\r", "\t": total + 2
            case _ where scalar.value < 0x20: total + 6
            default: total + String(scalar).utf8.count
            }
        }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension String {
    /// The longest prefix of whole characters that fits in `limit` UTF-8 bytes.
    func prefixBytes(_ limit: Int) -> String {
        var result = ""
        for character in self {
            if result.utf8.count + character.utf8.count > limit { break }
            result.append(character)
        }
        return result
    }
}
