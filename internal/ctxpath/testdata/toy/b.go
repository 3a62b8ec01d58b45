package toy

import "github.com/gin-gonic/gin"

func first(c *gin.Context) { _ = c }
