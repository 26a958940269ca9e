import Foundation
import ToolSupport
import XCTest

final class ToolSupportTests: XCTestCase {
    func testShardSpecParsing() {
        XCTAssertEqual(ShardSpec(argument: "1/1"), ShardSpec.whole)
        XCTAssertEqual(ShardSpec(argument: "2/3"), ShardSpec(index: 2, count: 3))
        XCTAssertEqual(ShardSpec(argument: "3/3")?.description, "3/3")
        for bad in ["3/2", "0/2", "1/0", "-1/2", "1", "1/2/3", "a/b", "", "/", "1/"] {
            XCTAssertNil(ShardSpec(argument: bad), bad)
        }
    }

    func testTimeArgumentParsing() {
        let cases: [(String, Double)] = [("0", 0), ("12.5", 12.5), ("1:30", 90), ("01:02:03", 3723), ("0:59.5", 59.5), ("2:00:00.25", 7200.25)]
        for (text, seconds) in cases {
            XCTAssertEqual(TimeArgument(argument: text)?.seconds ?? -1, seconds, accuracy: 1e-9, text)
        }
        for bad in ["", "-1", "1:60", "1:2:3:4", "a", "1.5:00", "00:61:00", "inf", "nan", ":", "1::2"] {
            XCTAssertNil(TimeArgument(argument: bad), bad)
        }
    }
}
