import ExportSinks
import FaceSearch

/// A library handed from the source stage to the page walkers.
struct GroupTask: Sendable {
    let key: GroupKey
    let account: AccountContext
    let groupID: String
}

/// Faces of one page, handed from a walker to the transformer.
struct FaceBatch: Sendable {
    let key: GroupKey
    let groupID: String
    let faces: [Face]
}

/// Records of one page, handed from the transformer to the sinks.
struct RecordBatch: Sendable {
    let key: GroupKey
    let records: [ExportRecord]
}
