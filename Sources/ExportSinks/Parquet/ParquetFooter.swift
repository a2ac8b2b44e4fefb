/// The file's metadata (`FileMetaData`), Thrift compact-encoded: schema, row groups, key-values.
struct ParquetFooter {
    let columns: [ParquetColumn]
    let codec: ParquetCodec
    let rowGroups: [ParquetRowGroupMetadata]
    let keyValueMetadata: [ParquetFileWriter.KeyValue]
    let createdBy: String

    func encoded() -> [UInt8] {
        var writer = ThriftCompactWriter()
        writer.structureValue { file in
            file.i32(1, 1)  // version
            file.list(2, structures: self.columns.count + 1) { element, index in
                if index == 0 {
                    element.string(4, "schema")
                    element.i32(5, Int32(self.columns.count))
                } else {
                    self.encode(self.columns[index - 1], into: &element)
                }
            }
            file.i64(3, self.rowGroups.reduce(0) { $0 + $1.rows })
            file.list(4, structures: self.rowGroups.count) { group, index in
                self.encode(self.rowGroups[index], ordinal: index, into: &group)
            }
            if !self.keyValueMetadata.isEmpty {
                file.list(5, structures: self.keyValueMetadata.count) { pair, index in
                    pair.string(1, self.keyValueMetadata[index].key)
                    pair.string(2, self.keyValueMetadata[index].value)
                }
            }
            file.string(6, self.createdBy)
            // Every column orders its statistics as its type defines (`TYPE_ORDER`).
            file.list(7, structures: self.columns.count) { order, _ in order.emptyStructure(1) }
        }
        return writer.bytes
    }

    /// A leaf's `SchemaElement`: type, repetition, name, and its logical type with the converted
    /// type older readers know it by.
    private func encode(_ column: ParquetColumn, into element: inout ThriftCompactWriter) {
        element.i32(1, column.type.rawValue)
        element.i32(3, column.isOptional ? 1 : 0)
        element.string(4, column.name)
        switch column.logicalType {
        case .none:
            break
        case .string:
            element.i32(6, 0)  // UTF8
            element.structure(10) { $0.emptyStructure(1) }
        case .date:
            element.i32(6, 6)  // DATE
            element.structure(10) { $0.emptyStructure(6) }
        case .timestampMillisUTC:
            element.i32(6, 9)  // TIMESTAMP_MILLIS
            element.structure(10) { logical in
                logical.structure(8) { timestamp in
                    timestamp.bool(1, true)
                    timestamp.structure(2) { $0.emptyStructure(1) }
                }
            }
        }
    }

    private func encode(_ group: ParquetRowGroupMetadata, ordinal: Int, into writer: inout ThriftCompactWriter) {
        writer.list(1, structures: group.columns.count) { chunk, index in
            let column = group.columns[index]
            let schema = self.columns[index]
            chunk.i64(2, 0)  // file_offset: no ColumnMetaData outside the footer
            chunk.structure(3) { metadata in
                metadata.i32(1, schema.type.rawValue)
                // The values' encodings, and RLE for the levels.
                metadata.list(2, i32: column.encodings.union(schema.isOptional ? [3] : []).sorted())
                metadata.list(3, strings: [schema.name])
                metadata.i32(4, self.codec.thriftValue)
                metadata.i64(5, column.values)
                metadata.i64(6, column.uncompressedSize)
                metadata.i64(7, column.compressedSize)
                metadata.i64(9, column.offset)
                if let dictionary = column.dictionaryOffset { metadata.i64(11, dictionary) }
                metadata.structure(12) { column.statistics.encode(into: &$0, type: schema.type) }
                if let filter = column.bloomFilter {
                    metadata.i64(14, filter.offset)
                    metadata.i32(15, filter.length)
                }
            }
            if let index = column.offsetIndex {
                chunk.i64(4, index.offset)
                chunk.i32(5, index.length)
            }
            if let index = column.columnIndex {
                chunk.i64(6, index.offset)
                chunk.i32(7, index.length)
            }
        }
        writer.i64(2, group.columns.reduce(0) { $0 + $1.uncompressedSize })
        writer.i64(3, group.rows)
        writer.i64(5, group.offset)
        writer.i64(6, group.columns.reduce(0) { $0 + $1.compressedSize })
        writer.i16(7, Int16(truncatingIfNeeded: ordinal))
    }
}
