import ExportSinks
import FaceSearch

/// A library handed from the source stage to the page walkers.
struct GroupTask: Sendable {
    let key: GroupKey
    let account: AccountContext
    let groupID: String
    /// Where an interrupted run left this library's walk, when resuming.
    let resumeFrom: WalkPosition?
}

/// Faces of one page, handed from a walker to the transformer; the last batch of a library says so
/// (and may be empty), so sinks with a file per library can finish it.
struct FaceBatch: Sendable {
    let key: GroupKey
    let source: RecordSource
    let faces: FacePage
    let isLast: Bool
    /// The walk's position after this page (for the journal), while the walk goes on.
    let position: WalkPosition?
    /// How the walk ended, on the last batch.
    let result: GroupWalkResult?
}

/// Records of one page, handed from the transformer to the sinks.
struct RecordBatch: Sendable {
    let key: GroupKey
    let source: RecordSource
    let records: RecordRows
    /// Faces of the page the transform's filter left out.
    let filtered: Int
    /// Tokens of the page's faces whose text was repaired (not valid UTF-8 as the API sent it).
    let repairedTokens: [String]
    let isLast: Bool
    let position: WalkPosition?
    let result: GroupWalkResult?
}
