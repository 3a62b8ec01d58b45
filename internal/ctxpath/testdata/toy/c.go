package toy

import "github.com/gin-gonic/gin"

func third(c *gin.Context) { first(c) }
