import ExportSinks
import FaceSearch

/// The third stage: turns the API's faces into the rows the sinks write, through the pipeline's
/// ``RecordTransform``, and counts the faces its filter leaves out.
struct RecordTransformer: Sendable {
    let transform: RecordTransform

    /// The rows of one page.
    func transform(_ batch: FaceBatch) -> RecordBatch {
        var rows = RecordRows(
            width: self.transform.schema.columns.count,
            capacity: batch.faces.count,
            // The face's own fields are borrowed from the page; the rows' bytes hold the derived ones
            // (`add_time_utc`, the library's id).
            textCapacity: batch.faces.count * 64
        )
        let filtered = self.transform.append(batch.faces, from: batch.source, to: &rows)
        var repaired: [String] = []
        for face in batch.faces.spans where face.textRepaired {
            repaired.append(batch.faces.withText { String(decoding: face.faceToken.bytes(in: $0), as: UTF8.self) })
        }
        return RecordBatch(
            key: batch.key,
            source: batch.source,
            records: rows,
            filtered: filtered,
            repairedTokens: repaired,
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
