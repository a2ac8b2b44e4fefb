/// The page index of one column chunk (`PageIndex.md`): what lets a reader skip the pages a
/// filter excludes, and find the others without reading the chunk.
enum ParquetPageIndex {
    /// The chunk's `ColumnIndex`: per page whether it holds only nulls, its bounds, its nulls; nil
    /// when a page that holds values has no bound that can be written (a long value with nothing
    /// to round up in its first bytes).
    static func columnIndex(_ pages: [ParquetPageRecord], type: ParquetColumn.PhysicalType) -> [UInt8]? {
        var nullPages: [Bool] = []
        var minimums: [[UInt8]] = []
        var maximums: [[UInt8]] = []
        for page in pages {
            let onlyNulls = page.statistics.nullCount == Int64(page.rows)
            nullPages.append(onlyNulls)
            if onlyNulls {
                minimums.append([])
                maximums.append([])
                continue
            }
            let bounds = page.statistics.bounds(for: type)
            guard let minimum = bounds.minimum, let maximum = bounds.maximum else { return nil }
            minimums.append(minimum)
            maximums.append(maximum)
        }
        var writer = ThriftCompactWriter()
        writer.structureValue { index in
            index.list(1, bool: nullPages)
            index.list(2, binary: minimums)
            index.list(3, binary: maximums)
            index.i32(4, 0)  // UNORDERED
            index.list(5, i64: pages.map(\.statistics.nullCount))
        }
        return writer.bytes
    }

    /// The chunk's `OffsetIndex`: where each page starts, its size with its header, its first row.
    static func offsetIndex(_ pages: [ParquetPageRecord]) -> [UInt8] {
        var writer = ThriftCompactWriter()
        writer.structureValue { index in
            index.list(1, structures: pages.count) { location, position in
                location.i64(1, pages[position].offset)
                location.i32(2, Int32(pages[position].size))
                location.i64(3, pages[position].firstRow)
            }
        }
        return writer.bytes
    }
}
