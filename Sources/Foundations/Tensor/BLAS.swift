import COpenBLAS
import Foundation

/// The BLAS calls Facet makes, on OpenBLAS. Threads: one per core (set once, on first use).
public enum BLAS {
    /// OpenBLAS runs single-threaded: `Parallel` splits large products across cores itself (OpenBLAS's
    /// own threads cost more than they give on the many small products of these networks, and two
    /// thread pools would oversubscribe the cores).
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// The kernel family OpenBLAS chose for this CPU (e.g. `Cooperlake`, `Haswell`).
    public static var coreName: String {
        _ = configured
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major. Large products are split
    /// into row blocks across cores (each block a single-threaded OpenBLAS call).
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = configured
        let aP = SendablePointer(a), bP = SendablePointer(b), cP = SendableMutablePointer(c)
        Parallel.ranges(m, work: m * n * k) { rows in
            // Row block of op(A): for a transposed A the rows of op(A) are columns of A.
            let aBlock = transA ? aP.pointer + rows.lowerBound : aP.pointer + rows.lowerBound * lda
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(n), Int32(k), alpha, aBlock, Int32(lda), bP.pointer, Int32(ldb), beta,
                        cP.pointer + rows.lowerBound * ldc, Int32(ldc))
        }
    }

    /// The same product on the calling thread only (for callers that already split work across cores).
    @inline(__always)
    public static func sgemmSerial(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = configured
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
