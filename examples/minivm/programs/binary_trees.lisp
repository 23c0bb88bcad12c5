;; binary_trees.lisp: the Benchmarks Game's binary-trees benchmark, on VM threads.
;;
;;   minivm binary_trees.lisp [DEPTH [THREADS]]      (defaults: 10, 1)
;;
;; A tree of depth 0 is a leaf `(() . ())`; a tree of depth d has two subtrees of depth d-1,
;; so it has 2^(d+1)-1 nodes, and its check value is that count. The program builds a
;; "stretch" tree of depth DEPTH+1 and drops it, builds a long-lived tree of depth DEPTH that
;; survives to the end, then for every depth d from 4 to DEPTH in steps of 2 builds and checks
;; 2^(DEPTH-d+4) trees of depth d, splitting those iterations among THREADS VM threads
;; (`spawn`, then `join`, which sums their checks).

(define (make-tree d)
  (if (= d 0)
      (cons nil nil)
      (cons (make-tree (- d 1)) (make-tree (- d 1)))))

(define (check tree)
  (if (null? (car tree))
      1
      (+ 1 (check (car tree)) (check (cdr tree)))))

;; 2^k.
(define (expt2 k)
  (if (= k 0) 1 (* 2 (expt2 (- k 1)))))

;; Builds and checks `n` trees of depth `d`; returns the sum of their checks.
(define (work n d)
  (let ((sum 0))
    (while (> n 0)
      (set! sum (+ sum (check (make-tree d))))
      (set! n (- n 1)))
    sum))

;; Splits `n` iterations at depth `d` among `threads` VM threads; returns the total check.
(define (parallel-work n d threads)
  (define (start k)                     ; threads k .. threads-1, each a share of n
    (if (= k threads)
        nil
        (cons (spawn work
                     (+ (quotient n threads) (if (< k (remainder n threads)) 1 0))
                     d)
              (start (+ k 1)))))
  (define (join-all ts)
    (if (null? ts) 0 (+ (join (car ts)) (join-all (cdr ts)))))
  (join-all (start 0)))

(define args (command-line))
(define min-depth 4)
(define max-depth
  (max (+ min-depth 2) (if (null? args) 10 (string->number (car args)))))
(define threads
  (if (or (null? args) (null? (cdr args))) 1 (string->number (car (cdr args)))))

(define stretch-depth (+ max-depth 1))
(print "stretch tree of depth " stretch-depth "\t check: " (check (make-tree stretch-depth)))

(define long-lived (make-tree max-depth))

(define d min-depth)
(while (<= d max-depth)
  (let ((n (expt2 (+ (- max-depth d) min-depth))))
    (print n "\t trees of depth " d "\t check: " (parallel-work n d threads)))
  (set! d (+ d 2)))

(print "long lived tree of depth " max-depth "\t check: " (check long-lived))
