; 40 independent branches: pruning keeps this linear
; expect: accept
; prog-type: kprobe
call 7
jgt %r0, 0, +1
mov %r6, 0
call 7
jgt %r0, 100, +1
mov %r6, 1
call 7
jgt %r0, 200, +1
mov %r6, 2
call 7
jgt %r0, 300, +1
mov %r6, 3
call 7
jgt %r0, 400, +1
mov %r6, 4
call 7
jgt %r0, 500, +1
mov %r6, 5
call 7
jgt %r0, 600, +1
mov %r6, 6
call 7
jgt %r0, 700, +1
mov %r6, 7
call 7
jgt %r0, 800, +1
mov %r6, 8
call 7
jgt %r0, 900, +1
mov %r6, 9
call 7
jgt %r0, 1000, +1
mov %r6, 10
call 7
jgt %r0, 1100, +1
mov %r6, 11
call 7
jgt %r0, 1200, +1
mov %r6, 12
call 7
jgt %r0, 1300, +1
mov %r6, 13
call 7
jgt %r0, 1400, +1
mov %r6, 14
call 7
jgt %r0, 1500, +1
mov %r6, 15
call 7
jgt %r0, 1600, +1
mov %r6, 16
call 7
jgt %r0, 1700, +1
mov %r6, 17
call 7
jgt %r0, 1800, +1
mov %r6, 18
call 7
jgt %r0, 1900, +1
mov %r6, 19
call 7
jgt %r0, 2000, +1
mov %r6, 20
call 7
jgt %r0, 2100, +1
mov %r6, 21
call 7
jgt %r0, 2200, +1
mov %r6, 22
call 7
jgt %r0, 2300, +1
mov %r6, 23
call 7
jgt %r0, 2400, +1
mov %r6, 24
call 7
jgt %r0, 2500, +1
mov %r6, 25
call 7
jgt %r0, 2600, +1
mov %r6, 26
call 7
jgt %r0, 2700, +1
mov %r6, 27
call 7
jgt %r0, 2800, +1
mov %r6, 28
call 7
jgt %r0, 2900, +1
mov %r6, 29
call 7
jgt %r0, 3000, +1
mov %r6, 30
call 7
jgt %r0, 3100, +1
mov %r6, 31
call 7
jgt %r0, 3200, +1
mov %r6, 32
call 7
jgt %r0, 3300, +1
mov %r6, 33
call 7
jgt %r0, 3400, +1
mov %r6, 34
call 7
jgt %r0, 3500, +1
mov %r6, 35
call 7
jgt %r0, 3600, +1
mov %r6, 36
call 7
jgt %r0, 3700, +1
mov %r6, 37
call 7
jgt %r0, 3800, +1
mov %r6, 38
call 7
jgt %r0, 3900, +1
mov %r6, 39
mov %r0, 0
exit
