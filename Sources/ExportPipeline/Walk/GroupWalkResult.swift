/// What the walk of one library found.
public struct GroupWalkResult: Sendable, Equatable, Codable {
    /// How the walk ended.
    public var status: GroupStatus
    /// The count `get_size` announced, if it answered.
    public var expected: Int?
    /// The count `get_size` announced after the walk, if it was asked and answered.
    public var expectedAfter: Int?
    /// Distinct faces handed on.
    public var exported: Int
    /// Non-empty pages received.
    public var pages: Int
    /// Faces received twice across a page boundary and dropped.
    public var duplicatesDropped: Int
    /// Faces beyond the server's `start` cap, for an incomplete walk.
    public var unreachable: Int?
    /// Why the walk failed or stopped early.
    public var error: String?
    /// Whether the library's size or the faces walked moved while it was walked (edits during the export).
    public var changedDuringExport = false

    /// Creates a result.
    public init(
        status: GroupStatus,
        expected: Int?,
        exported: Int,
        pages: Int,
        duplicatesDropped: Int,
        unreachable: Int? = nil,
        error: String? = nil
    ) {
        self.status = status
        self.expected = expected
        self.exported = exported
        self.pages = pages
        self.duplicatesDropped = duplicatesDropped
        self.unreachable = unreachable
        self.error = error
    }
}

extension GroupWalkResult {
    private enum CodingKeys: String, CodingKey {
        case status, expected, expectedAfter, exported, pages, duplicatesDropped, unreachable, error
        case changedDuringExport
    }

    /// Reads a result from the journal; journals of earlier versions have no `changedDuringExport`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            status: try container.decode(GroupStatus.self, forKey: .status),
            expected: try container.decodeIfPresent(Int.self, forKey: .expected),
            exported: try container.decode(Int.self, forKey: .exported),
            pages: try container.decode(Int.self, forKey: .pages),
            duplicatesDropped: try container.decode(Int.self, forKey: .duplicatesDropped),
            unreachable: try container.decodeIfPresent(Int.self, forKey: .unreachable),
            error: try container.decodeIfPresent(String.self, forKey: .error)
        )
        self.expectedAfter = try container.decodeIfPresent(Int.self, forKey: .expectedAfter)
        self.changedDuringExport = try container.decodeIfPresent(Bool.self, forKey: .changedDuringExport) ?? false
    }
}
