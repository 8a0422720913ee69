module greenhub/bench/echo

go 1.19
