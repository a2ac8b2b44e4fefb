import ExportSinks
import FaceSearch

/// The third stage: turns the API's faces into the records the sinks write.
///
/// `add_time` arrives in milliseconds whatever form the API used; the transformer adds its RFC 3339
/// UTC form so every sink writes the same two columns.
struct RecordTransformer: Sendable {
    /// The records of one page.
    func transform(_ batch: FaceBatch) -> RecordBatch {
        let records = batch.faces.map { face in
            ExportRecord(
                groupID: batch.source.groupID,
                faceToken: face.faceToken,
                userID: face.userID,
                userData: face.userData,
                addTime: face.addTime,
                addTimeUTC: Timestamp.formatRFC3339UTC(milliseconds: face.addTime)
            )
        }
        return RecordBatch(
            key: batch.key,
            source: batch.source,
            records: records,
            isLast: batch.isLast,
            position: batch.position,
            result: batch.result
        )
    }

    /// Transforms everything from `input` into `output`, then closes `output`.
    @available(*, noasync)
    func work(input: BoundedQueue<FaceBatch>, output: BoundedQueue<RecordBatch>) {
        defer { output.close() }
        while let batch = input.pop() {
            guard output.push(self.transform(batch)) else { return }
        }
    }
}
