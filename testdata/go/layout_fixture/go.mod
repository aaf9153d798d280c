module example.com/layoutfixture

go 1.21
