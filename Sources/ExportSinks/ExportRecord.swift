/// One face as the sinks write it: the transformer stage's output.
public struct ExportRecord: Sendable, Hashable {
    /// The library the face belongs to.
    public var groupID: String
    /// The face's unique token.
    public var faceToken: String
    /// The opaque user id, byte-exact.
    public var userID: String
    /// The opaque user data, byte-exact.
    public var userData: String
    /// When the face was added, in Unix milliseconds.
    public var addTime: Int64
    /// `addTime` as RFC 3339 UTC with milliseconds, e.g. `2026-01-30T02:21:30.208Z`.
    public var addTimeUTC: String

    /// Creates a record.
    public init(
        groupID: String,
        faceToken: String,
        userID: String,
        userData: String,
        addTime: Int64,
        addTimeUTC: String
    ) {
        self.groupID = groupID
        self.faceToken = faceToken
        self.userID = userID
        self.userData = userData
        self.addTime = addTime
        self.addTimeUTC = addTimeUTC
    }
}
